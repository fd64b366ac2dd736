/**
 * The gateway listener in transparent mode, for requests the firewall did not redirect (on
 * loopback nothing is redirected; transparent-netns.test.ts covers redirected ones): they go
 * where their Host header points, GW-IP is handed out as msnscope's own address only when its
 * port is not one the firewall redirects, and a request to msnscope's own address is served
 * as in reverse mode.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lookup } from 'node:dns/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { startLabGateway } from '../../src/lab/gateway.js'
import { startLabServer } from '../../src/lab/server.js'
import { HttpGateway, type HttpGatewayOptions } from '../../src/transport/http-gateway.js'
import { requireOriginalDst } from '../../src/transport/original-dst.js'
import { Events, OPEN_NS, post, send } from './gateway-helpers.js'

const LAB_HOST = '127.0.0.3'

function whyNot(): string | null {
  try { requireOriginalDst(); return null } catch (err) { return (err as Error).message }
}
const skip = whyNot()

async function setUp(t: import('node:test').TestContext, options: (gatewayPort: number) => Partial<HttpGatewayOptions> = () => ({}), listenHost = '127.0.0.1') {
  const lab = await startLabServer({ host: LAB_HOST })
  t.after(() => lab.close())
  const gateway = await startLabGateway({ host: LAB_HOST, backend: { ns: lab.ns, sb: lab.sb } })
  t.after(() => gateway.close())
  const events = new Events()
  const scope = new HttpGateway({ listen: { host: listenHost, port: 0 }, upstream: gateway.address, mode: 'transparent', ...options(gateway.port) })
  scope.addSink(events.sink)
  const addr = await scope.start()
  t.after(() => scope.close())
  return { gateway, events, scope: addr }
}

test('not redirected: a gateway request goes where its Host header points; a GW-IP on a port the firewall does not redirect becomes msnscope\'s', { skip: skip ?? false }, async (t) => {
  const { gateway, events, scope } = await setUp(t)
  const open = await post(scope, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n', { host: `${LAB_HOST}:${gateway.port}` })
  assert.equal(open.status, 200)
  assert.match(open.text, /^VER 1 MSNP12\r\n/)
  assert.equal(open.messenger?.gwIp, `127.0.0.1:${scope.port}`, 'the lab GW-IP is on the lab port, which nothing redirects')
  const opened = await events.waitFor('session-open')
  assert.equal(opened.server, `${LAB_HOST}:${gateway.port}`)
  const redirect = await events.waitFor('redirect')
  assert.deepEqual([redirect.verb, redirect.real, redirect.handedOut, redirect.note], ['GW-IP', '127.0.0.2', `127.0.0.1:${scope.port}`, undefined])
  // the client follows the GW-IP it was given, to msnscope, which sends it on to the real one
  const next = await post(scope, send(open.messenger!.sessionId!), 'CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 msmsgs alice@example.com\r\n')
  assert.equal(next.status, 200)
  assert.match(next.text, /^CVR 2 /)
  assert.deepEqual(gateway.requests.map((r) => r.localAddress), [LAB_HOST, '127.0.0.2'])
  assert.deepEqual(events.commands(opened.conn), ['C VER', 'S VER', 'C CVR', 'S CVR'])
})

test('not redirected: a GW-IP on a port the firewall redirects is left alone, and the events say so', { skip: skip ?? false }, async (t) => {
  const { gateway, events, scope } = await setUp(t, (port) => ({ redirectedPorts: [port] }))
  const open = await post(scope, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n', { host: `${LAB_HOST}:${gateway.port}` })
  assert.equal(open.status, 200)
  assert.equal(open.messenger?.gwIp, '127.0.0.2')
  const redirect = await events.waitFor('redirect')
  assert.deepEqual([redirect.real, redirect.handedOut, redirect.note], ['127.0.0.2', null, `left alone: the firewall redirects port ${gateway.port} to msnscope`])
  const answer = await events.waitFor('http', (e) => e.from === 'server')
  assert.equal(answer.note, redirect.note)
})

test('a request to msnscope\'s own address is served as in reverse mode', { skip: skip ?? false }, async (t) => {
  const { gateway, events, scope } = await setUp(t)
  const open = await post(scope, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  assert.equal(open.status, 200)
  assert.equal(open.messenger?.gwIp, `127.0.0.1:${scope.port}`)
  assert.equal((await events.waitFor('session-open')).server, `${LAB_HOST}:${gateway.port}`, 'the open went to the upstream gateway')
})

test('a Host that names msnscope itself, literally or by a name that resolves to it, is not a destination (no loop)', { skip: skip ?? false }, async (t) => {
  const { gateway, events, scope } = await setUp(t, () => ({}), '0.0.0.0')
  const hosts = [`localhost:${scope.port}`, `127.0.0.1:${scope.port}`]
  if ((await lookup(os.hostname(), { all: true }).catch(() => [])).length > 0) hosts.push(`${os.hostname()}:${scope.port}`)
  for (const host of hosts) {
    const open = await post({ host: '127.0.0.1', port: scope.port }, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n', { host })
    assert.equal(open.status, 200, host)
  }
  const opens = events.of('session-open')
  assert.equal(opens.length, hosts.length)
  for (const o of opens) assert.equal(o.server, `${LAB_HOST}:${gateway.port}`, 'served in reverse mode, to the upstream gateway')
})

test('not redirected and not gateway traffic: 403 as in the explicit modes; with allowAnyHttp, relayed where its Host header points', { skip: skip ?? false }, async (t) => {
  const web = http.createServer((req, res) => res.end(`page ${req.url ?? ''} for ${req.headers.host ?? ''}`))
  await new Promise<void>((resolve) => web.listen(0, LAB_HOST, () => resolve()))
  t.after(() => new Promise<void>((resolve) => { web.close(() => resolve()); web.closeAllConnections() }))
  const webHost = `${LAB_HOST}:${(web.address() as AddressInfo).port}`
  const get = (to: { host: string; port: number }): Promise<{ status: number; text: string }> => new Promise((resolve, reject) => {
    http.get({ host: to.host, port: to.port, path: '/login.srf', headers: { Host: webHost }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
    }).on('error', reject)
  })
  const strict = await setUp(t)
  assert.equal((await get(strict.scope)).status, 403)
  assert.equal((await strict.events.waitFor('http')).status, 403)
  const upgrade = await new Promise<number>((resolve, reject) => {
    http.get({ host: strict.scope.host, port: strict.scope.port, path: '/chat', headers: { Host: webHost, Connection: 'Upgrade', Upgrade: 'websocket' }, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', reject)
  })
  assert.equal(upgrade, 403, 'an upgrade that was not redirected')
  const open = await setUp(t, () => ({ allowAnyHttp: true }))
  assert.deepEqual(await get(open.scope), { status: 200, text: `page /login.srf for ${webHost}` })
  assert.equal(open.events.all.filter((e) => e.kind !== 'stats').length, 0)
})
