/**
 * What goes wrong on either side of the gateway interceptor becomes a clear event and ends at
 * most the session concerned: a client that gives up in the middle of a poll, a gateway that
 * answers 500 or garbage or cuts its body short, a client body shorter than its
 * Content-Length, an unknown SessionID, requests that are not MSN gateway traffic. Another
 * session stays usable throughout.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import type { ServerResponse } from 'node:http'
import { HttpGateway, type HttpGatewayOptions } from '../../src/transport/http-gateway.js'
import { Events, gatewayAnswer, OPEN_NS, poll, post, send, startFakeGateway, type FakeRequest } from './gateway-helpers.js'

type Mode = (req: FakeRequest, res: ServerResponse) => boolean

/** A gateway whose sessions (1, 2, …) answer normally unless the test sets a mode for one. */
async function setup(t: import('node:test').TestContext, options: Partial<HttpGatewayOptions> = {}) {
  let next = 1
  const minors = new Map<string, number>()
  const modes = new Map<string, Mode>()
  const arrived: ((r: FakeRequest) => void)[] = []
  const fake = await startFakeGateway('127.0.0.3', (req, res) => {
    for (const f of arrived.splice(0)) f(req)
    const open = req.path.includes('Action=open')
    const major = open ? String(next++) : (/SessionID=(\d+)/.exec(req.path)?.[1] ?? '?')
    if (!open && modes.get(major)?.(req, res) === true) return
    const minor = (minors.get(major) ?? 0) + 1
    minors.set(major, minor)
    gatewayAnswer(res, `${major}.${minor}`, open ? 'VER 1 MSNP12\r\n' : req.body.length > 0 ? req.body : '')
  })
  t.after(() => fake.close())
  const events = new Events()
  const scope = new HttpGateway({ listen: { host: '127.0.0.1', port: 0 }, upstream: fake.address, ...options })
  scope.addSink(events.sink)
  const addr = await scope.start()
  t.after(() => scope.close())
  const open = async (): Promise<{ sid: string; conn: string }> => {
    const a = await post(addr, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
    assert.equal(a.status, 200)
    return { sid: a.messenger!.sessionId!, conn: events.of('session-open').at(-1)!.conn }
  }
  /** the next request to reach the gateway */
  const nextArrival = (): Promise<FakeRequest> => new Promise((resolve) => arrived.push(resolve))
  return { fake, scope, addr, events, modes, open, nextArrival }
}

/** Another session still works: a command goes through and comes back (the fake echoes bodies). */
async function stillWorks(addr: { host: string; port: number }, sid: string): Promise<void> {
  const a = await post(addr, send(sid), 'CHG 9 NLN 0\r\n')
  assert.equal(a.status, 200)
  assert.equal(a.text, 'CHG 9 NLN 0\r\n')
}

/** Send raw bytes to msnscope and return the socket. */
async function raw(addr: { host: string; port: number }, text: string): Promise<net.Socket> {
  const socket = net.connect(addr.port, addr.host)
  await once(socket, 'connect')
  socket.on('error', () => {})
  socket.write(text)
  return socket
}

test('a client that gives up in the middle of a poll: the answer is kept for its next request', async (t) => {
  const { addr, events, modes, open, nextArrival } = await setup(t)
  const a = await open()
  const b = await open()
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  let held = true
  modes.set('1', (req, res) => {
    if (!held || req.body.length > 0) return false
    held = false
    void released.then(() => gatewayAnswer(res, '1.99', 'NLN NLN bob@example.net Bob 0\r\n'))
    return true
  })
  const arrival = nextArrival()
  const socket = await raw(addr, `POST ${poll(a.sid)} HTTP/1.1\r\nHost: ${addr.host}:${addr.port}\r\nContent-Length: 0\r\n\r\n`)
  await arrival
  socket.destroy()
  await events.waitFor('http', (e) => e.conn === a.conn && e.note?.startsWith('client went away with its request outstanding') === true)
  await stillWorks(addr, b.sid)
  release()
  const kept = await events.waitFor('http', (e) => e.conn === a.conn && e.note?.startsWith('client gave up before the answer') === true)
  assert.match(kept.note!, /31 bytes kept for its next request/)
  // the client comes back with the SessionID it had; msnscope sends the latest on and hands over what was kept
  const again = await post(addr, poll(a.sid))
  assert.equal(again.status, 200)
  assert.equal(again.text, 'NLN NLN bob@example.net Bob 0\r\n')
  assert.equal(events.of('session-close').length, 0)
})

test('a gateway that answers 500 ends that session only, and the client sees the 500', async (t) => {
  const { addr, events, modes, open } = await setup(t)
  const a = await open()
  const b = await open()
  modes.set('1', (_req, res) => { res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': 5 }); res.end('oops\n'); return true })
  const answer = await post(addr, send(a.sid), 'CHG 9 NLN 0\r\n')
  assert.equal(answer.status, 500)
  assert.equal(answer.text, 'oops\n')
  const note = await events.waitFor('http', (e) => e.conn === a.conn && e.status === 500)
  assert.match(note.note!, /gateway answered 500; session ended/)
  const close = await events.waitFor('session-close', (e) => e.conn === a.conn)
  assert.match(close.reason, /^gateway answered 500/)
  assert.equal((await post(addr, poll(a.sid))).status, 400)
  await stillWorks(addr, b.sid)
})

test('garbage from the gateway, or a body cut short, is a 502 to the client and the end of that session', async (t) => {
  const { addr, events, modes, open } = await setup(t)
  const bad = await open()
  const short = await open()
  const fine = await open()
  modes.set('1', (_req, res) => { res.socket!.end('SIP/2.0 200 OK\r\nwhat is this\r\n\r\n'); return true })
  modes.set('2', (_req, res) => {
    res.socket!.write('HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=2.5; GW-IP=127.0.0.3\r\nContent-Length: 50\r\n\r\nNLN NLN bo')
    res.socket!.destroy()
    return true
  })
  for (const [s, why] of [[bad, /not an HTTP answer/], [short, /answer cut short: 10 of 50 body bytes/]] as const) {
    const a = await post(addr, send(s.sid), 'CHG 9 NLN 0\r\n')
    assert.equal(a.status, 502)
    const note = await events.waitFor('http', (e) => e.conn === s.conn && e.status === 502)
    assert.match(note.note!, why)
    const close = await events.waitFor('session-close', (e) => e.conn === s.conn)
    assert.match(close.reason, /^gateway error/)
  }
  await stillWorks(addr, fine.sid)
})

test('a request body shorter than its Content-Length is reported and goes nowhere', async (t) => {
  const { fake, addr, events, open } = await setup(t, { bodyTimeoutMs: 200 })
  const a = await open()
  const before = fake.requests.length
  // the client gives up after part of the body
  const socket = await raw(addr, `POST ${send(a.sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nCHG 9 NL`)
  socket.end()
  const cut = await events.waitFor('http', (e) => e.conn === a.conn && e.note?.startsWith('request body incomplete') === true)
  assert.match(cut.note!, /8 of 40 bytes/)
  // the client waits with part of the body: msnscope gives up after bodyTimeoutMs
  const slow = await raw(addr, `POST ${send(a.sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nCHG 9 NL`)
  const [data] = await once(slow, 'data') as [Buffer]
  assert.match(data.toString(), /^HTTP\/1\.1 408 /)
  slow.destroy()
  assert.equal(fake.requests.length, before, 'nothing reached the gateway')
  assert.equal(events.of('session-close').length, 0)
  await stillWorks(addr, a.sid)
})

test('an unknown SessionID gets 400 and an event; no session is touched', async (t) => {
  const { addr, events, open } = await setup(t)
  const a = await open()
  const answer = await post(addr, poll('987654.321'))
  assert.equal(answer.status, 400)
  const ev = await events.waitFor('http', (e) => e.note?.startsWith('unknown SessionID') === true)
  assert.equal(ev.conn, '-')
  assert.equal(ev.sessionId, '987654.321')
  await stillWorks(addr, a.sid)
})

test('forward-proxy mode relays MSN gateway traffic only, unless any HTTP is allowed', async (t) => {
  const site = http.createServer((_req, res) => { res.writeHead(200, { 'Content-Length': 2 }); res.end('ok') })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.3', () => resolve()))
  t.after(() => site.close())
  const port = (site.address() as net.AddressInfo).port
  const strict = await setup(t)
  const refused = await post(strict.addr, `http://127.0.0.3:${port}/index.html`)
  assert.equal(refused.status, 403)
  const ev = await strict.events.waitFor('http', (e) => e.status === 403)
  assert.match(ev.note!, /only MSN gateway traffic/)
  const open = await post(strict.addr, `http://${strict.fake.address.host}:${strict.fake.address.port}${OPEN_NS}`, 'VER 1 MSNP12 CVR0\r\n')
  assert.equal(open.status, 200, 'gateway traffic is relayed')
  const lax = await setup(t, { allowAnyHttp: true })
  const relayed = await post(lax.addr, `http://127.0.0.3:${port}/index.html`)
  assert.equal(relayed.status, 200)
  assert.equal(relayed.text, 'ok')
})

test('CONNECT to an MSNP port is relayed and decoded as TCP; other ports get 403', async (t) => {
  const server = net.createServer((s) => { s.on('error', () => {}); s.on('data', () => s.write('VER 1 MSNP12\r\n')) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.3', () => resolve()))
  t.after(() => server.close())
  const port = (server.address() as net.AddressInfo).port
  const { addr, events } = await setup(t, { msnpPorts: [port] })
  const socket = await raw(addr, `CONNECT 127.0.0.3:${port} HTTP/1.1\r\nHost: 127.0.0.3:${port}\r\n\r\n`)
  const [ok] = await once(socket, 'data') as [Buffer]
  assert.match(ok.toString(), /^HTTP\/1\.1 200 /)
  socket.write('VER 1 MSNP12 CVR0\r\n')
  const [answer] = await once(socket, 'data') as [Buffer]
  assert.equal(answer.toString(), 'VER 1 MSNP12\r\n')
  socket.end()
  const open = await events.waitFor('session-open', (e) => e.transport === 'tcp')
  assert.equal(open.server, `127.0.0.3:${port}`)
  await events.waitFor('session-close', (e) => e.conn === open.conn)
  assert.deepEqual(events.commands(open.conn), ['C VER', 'S VER'])

  const other = await raw(addr, 'CONNECT 127.0.0.3:443 HTTP/1.1\r\nHost: 127.0.0.3:443\r\n\r\n')
  const [no] = await once(other, 'data') as [Buffer]
  assert.match(no.toString(), /^HTTP\/1\.1 403 /)
  other.destroy()
})

test('bytes that are not HTTP close that connection and nothing else', async (t) => {
  const { addr, open } = await setup(t)
  const a = await open()
  const socket = await raw(addr, 'VER 1 MSNP12 CVR0\r\n\r\n')
  await once(socket, 'close')
  await stillWorks(addr, a.sid)
})
