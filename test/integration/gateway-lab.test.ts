/**
 * The lab gateway behaves like the real one (http-gateway.md): SessionID whose part after the
 * dot changes on every answer, a GW-IP other than the address the client used, 400 to a
 * request that overlaps one outstanding, Session=close when the server side closes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { startLabServer } from '../../src/lab/server.js'
import { gatewayTransport, startLabGateway } from '../../src/lab/gateway.js'
import { LabClient } from '../../src/lab/client.js'
import { sessionKey } from '../../src/protocol/gateway.js'
import { OPEN_NS, poll, post, send } from './gateway-helpers.js'

async function lab(t: import('node:test').TestContext, gatewayOptions: Partial<Parameters<typeof startLabGateway>[0]> = {}) {
  const server = await startLabServer({ host: '127.0.0.3' })
  t.after(() => server.close())
  const gateway = await startLabGateway({ host: '127.0.0.3', backend: { ns: server.ns, sb: server.sb }, ...gatewayOptions })
  t.after(() => gateway.close())
  return { server, gateway }
}

test('the part of SessionID after the dot changes on every answer, the part before stays', async (t) => {
  const { gateway } = await lab(t)
  const open = await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  assert.equal(open.status, 200)
  assert.equal(open.headers['content-type'], 'application/x-msn-messenger')
  assert.match(open.text, /^VER 1 MSNP12\r\n/)
  const ids = [open.messenger!.sessionId!]
  assert.match(ids[0]!, /^\d+\.\d+$/)
  const gw = { host: open.messenger!.gwIp!, port: gateway.port }
  for (const body of ['CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 msmsgs alice@example.com\r\n', '', '']) {
    const a = await post(gw, body === '' ? poll(ids.at(-1)!) : send(ids.at(-1)!), body)
    assert.equal(a.status, 200)
    ids.push(a.messenger!.sessionId!)
  }
  assert.equal(new Set(ids.map(sessionKey)).size, 1, 'one session')
  assert.equal(new Set(ids).size, ids.length, `every answer has a new SessionID: ${ids.join(', ')}`)
})

test('GW-IP names another address than the one the client used, and the session lives there', async (t) => {
  const { gateway } = await lab(t)
  const open = await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const gwIp = open.messenger!.gwIp!
  assert.notEqual(gwIp, '127.0.0.3')
  assert.equal(gwIp, '127.0.0.2')
  const next = await post({ host: gwIp, port: gateway.port }, poll(open.messenger!.sessionId!))
  assert.equal(next.status, 200)
  assert.deepEqual(gateway.requests.map((r) => r.localAddress), ['127.0.0.3', '127.0.0.2'])
})

test('a second request while one is outstanding gets 400; the first is still answered', async (t) => {
  const { gateway } = await lab(t, { pollHoldMs: 300 })
  const open = await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const sid = open.messenger!.sessionId!
  const arrived = once(gateway, 'received')
  const held = post(gateway.address, poll(sid))
  await arrived
  // The poll is held (nothing to deliver); this one overlaps it.
  const overlapping = await post(gateway.address, send(sid), 'CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 msmsgs alice@example.com\r\n')
  assert.equal(overlapping.status, 400)
  const first = await held
  assert.equal(first.status, 200)
  assert.equal(first.body.length, 0)
})

test('a stale or unknown SessionID gets 400', async (t) => {
  const { gateway } = await lab(t)
  const open = await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const sid = open.messenger!.sessionId!
  const fresh = await post(gateway.address, poll(sid))
  assert.equal(fresh.status, 200)
  assert.equal((await post(gateway.address, poll(sid))).status, 400, 'the SessionID before the last answer')
  assert.equal((await post(gateway.address, poll('12345.678'))).status, 400)
  assert.equal((await post(gateway.address, poll(fresh.messenger!.sessionId!))).status, 200)
})

test('PNG through the gateway gets 400 and ends the session', async (t) => {
  const { gateway } = await lab(t)
  const open = await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const png = await post(gateway.address, send(open.messenger!.sessionId!), 'PNG\r\n')
  assert.equal(png.status, 400)
  assert.equal(gateway.sessions, 0)
})

test('Session=close follows the server closing the connection', async (t) => {
  const { gateway } = await lab(t)
  const open = await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  let a = await post(gateway.address, send(open.messenger!.sessionId!), 'OUT\r\n')
  while (!a.messenger!.sessionClose) a = await post(gateway.address, poll(a.messenger!.sessionId!))
  assert.equal(a.status, 200)
  assert.equal((await post(gateway.address, poll(a.messenger!.sessionId!))).status, 400, 'the session is gone')
})

test('requests from peers it does not allow get 403 and are recorded', async (t) => {
  const { gateway } = await lab(t, { allow: (p) => p.remoteAddress === '127.0.0.4' })
  assert.equal((await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n', { localAddress: '127.0.0.5' })).status, 403)
  assert.equal((await post(gateway.address, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n', { localAddress: '127.0.0.4' })).status, 200)
  assert.deepEqual(gateway.requests.map((r) => [r.remoteAddress, r.refused]), [['127.0.0.5', true], ['127.0.0.4', false]])
})

test('a lab client signs in, sets its presence and signs out over the gateway transport', async (t) => {
  const { server, gateway } = await lab(t)
  const client = new LabClient({ account: 'alice@example.com', dialect: 12, host: 'messenger.hotmail.com', port: 1863, transport: gatewayTransport({ gateway: gateway.address, pollIntervalMs: 10 }) })
  t.after(() => client.close())
  await client.login()
  await client.setPresence('NLN')
  await client.ping()
  assert.deepEqual(server.online(), ['alice@example.com'])
  await client.logout()
  assert.equal(client.stats.sentByVerb.PNG, undefined, 'no PNG through the gateway')
  assert.deepEqual(server.peers.map((p) => p.role), ['NS'], 'one connection, made by the gateway straight to the NS')
})
