/**
 * Replays against peers that misbehave: a server that never answers, one that hangs up, one
 * that sends garbage, a referral nobody can reach, and clients that send nonsense to `serve`.
 * Each ends the replay (or that connection) with a report, never the process.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import type { ScopeEvent } from '../../src/events.js'
import { planReplay } from '../../src/replay/plan.js'
import { replayClient } from '../../src/replay/client.js'
import { startReplayServer } from '../../src/replay/server.js'
import { scopeEvents, type Step } from '../helpers/scope-events.js'
import { WirePeer } from '../helpers/lab-peer.js'

const HOST = '127.0.0.3'
type T = { after: (fn: () => Promise<void> | void) => void }

const C = (wire: string): Step => ({ conn: 'c1', role: 'NS', from: 'client', wire, dialect: 12 })
const S = (wire: string): Step => ({ conn: 'c1', role: 'NS', from: 'server', wire, dialect: 12 })

const LOGIN = scopeEvents([
  C('VER 1 MSNP12 CVR0\r\n'), S('VER 1 MSNP12\r\n'),
  C('CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 msmsgs alice@example.com\r\n'), S('CVR 2 7.0.0816 7.0.0816 1.0.0863 http://a.invalid http://b.invalid\r\n'),
  C('USR 3 TWN I alice@example.com\r\n'), S('XFR 3 NS 192.0.2.41:1863 0 192.0.2.10:1863\r\n'),
])

/** A TCP server that does `onSocket` with every connection. */
async function rawServer(t: T, onSocket: (s: net.Socket) => void): Promise<{ host: string; port: number }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); onSocket(s) })
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()))
  t.after(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }))
  const a = server.address() as net.AddressInfo
  return { host: HOST, port: a.port }
}

test('a server that never answers: the missing reply is reported after the timeout', async (t) => {
  const to = await rawServer(t, () => {})
  const report = await replayClient(planReplay(LOGIN), { to, timeoutMs: 100 }).done
  assert.equal(report.completed, false)
  assert.equal(report.differences.length, 1)
  assert.equal(report.differences[0]!.what, 'missing')
  assert.equal(report.reason, 'c1 #2 (live c1): missing: no VER in reply to VER 1 MSNP12 CVR0 within 0.1 s'.replace(/^c1 #2 \(live c1\): missing: /, ''))
})

test('a server that hangs up mid-session: reported as closed, with what was left', async (t) => {
  const to = await rawServer(t, (s) => s.once('data', () => s.end('VER 1 MSNP12\r\n')))
  const report = await replayClient(planReplay(LOGIN), { to }).done
  assert.equal(report.completed, false)
  assert.equal(report.differences.at(-1)?.what, 'closed')
  assert.match(report.reason ?? '', /^server closed the connection: 1 recorded command not sent$/)
})

test('a server that sends garbage and nonsense replies: differences, no crash', async (t) => {
  const answers: Buffer[] = [
    Buffer.concat([Buffer.from([0, 1, 2, 255, 13, 10]), Buffer.from('VER 1 MSNP12\r\n\u00ff\u00fe\r\n')]),
    Buffer.from('CVR 2 x\r\nMSG 5 xx\r\n'),
    Buffer.from('USR 3 OK\r\n'),
  ]
  const to = await rawServer(t, (s) => s.on('data', () => { const a = answers.shift(); if (a !== undefined) s.write(a) }))
  const live: ScopeEvent[] = []
  const report = await replayClient(planReplay(LOGIN), { to, timeoutMs: 200, sink: (e) => { live.push(e) } }).done
  assert.equal(report.completed, true)
  assert.ok(live.some((e) => e.kind === 'malformed'))
  assert.deepEqual(report.differences.map((d) => d.what), ['args', 'verb'])
  assert.match(report.differences[0]!.detail, /^CVR 2 7\.0\.0816 .*: argument 1: "7\.0\.0816" → "x"; argument 2 "7\.0\.0816" missing/)
  assert.match(report.differences[1]!.detail, /^USR instead of XFR 3 NS 192\.0\.2\.41:1863 0 192\.0\.2\.10:1863 in reply to USR 3 TWN I alice@example\.com$/)
})

test('a referral to an address nobody listens on ends the replay with a connect difference', async (t) => {
  const plan = planReplay([
    ...LOGIN,
    ...scopeEvents([{ conn: 'c2', role: 'NS', from: 'client', wire: 'VER 1 MSNP12 CVR0\r\n', dialect: 12 }, { conn: 'c2', role: 'NS', from: 'server', wire: 'VER 1 MSNP12\r\n', dialect: 12 }], 50)
      .map((e) => ({ ...e, server: '192.0.2.41:1863' })),
  ])
  assert.equal(plan.connections[1]?.opener.kind, 'referral')
  // the live server refers to a port that was just closed
  const closed = net.createServer()
  await new Promise<void>((resolve) => closed.listen(0, HOST, () => resolve()))
  const dead = (closed.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const to = await rawServer(t, (s) => {
    let n = 0
    s.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\r\n').filter(Boolean)) {
        n++
        if (n === 1) s.write('VER 1 MSNP12\r\n')
        if (n === 2) s.write('CVR 2 7.0.0816 7.0.0816 1.0.0863 http://a.invalid http://b.invalid\r\n')
        if (n === 3) s.end(`XFR 3 NS ${HOST}:${dead} 0 ${HOST}:1863\r\n`)
        void line
      }
    })
  })
  const report = await replayClient(plan, { to }).done
  assert.equal(report.completed, false)
  assert.equal(report.differences.at(-1)?.what, 'connect')
  assert.match(report.reason ?? '', /cannot connect to 127\.0\.0\.3:\d+: ECONNREFUSED/)
})

test('serve: nonsense from a client ends nothing but its own connection', async (t) => {
  const events: ScopeEvent[] = []
  const serve = await startReplayServer(planReplay(LOGIN), { listen: { host: HOST, port: 0 }, unmatched: { kind: 'close' }, sink: (e) => { events.push(e) } })
  t.after(() => serve.close())
  const bad = await WirePeer.connect(HOST, serve.address.port)
  bad.write(Buffer.from([0xff, 0xfe, 0x0d, 0x0a]))
  bad.write('FOO 1 bar\r\n')
  await bad.closed
  const good = await WirePeer.connect(HOST, serve.address.port)
  t.after(() => good.close())
  good.write('VER 7 MSNP12 CVR0\r\n')
  const ver = await good.next()
  assert.deepEqual([ver.verb, ver.trId, ver.args], ['VER', 7, ['MSNP12']])
  assert.ok(events.some((e) => e.kind === 'malformed'))
  assert.ok(events.some((e) => e.kind === 'unmatched' && /^FOO 1 bar: no recorded connection begins with it; connection closed$/.test(e.detail)))
})
