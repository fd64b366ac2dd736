/** Client and server replay of lab sessions recorded through the proxy and saved as JSON lines. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CommandScopeEvent, ScopeEvent } from '../../src/events.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { dashboardReplay } from '../../src/replay/api.js'
import { LabClient } from '../../src/lab/client.js'
import { loadRecording } from '../../src/replay/load.js'
import { planReplay } from '../../src/replay/plan.js'
import { replayClient } from '../../src/replay/client.js'
import { startReplayServer } from '../../src/replay/server.js'
import { HOST, TEXTS, allClosed, lab, recordLabSession } from '../helpers/replay-recording.js'

/** Server verbs per connection, in order. */
function serverVerbs(events: readonly ScopeEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const e of events) {
    if (e.kind !== 'command' || e.command.from !== 'server') continue
    out.set(e.conn, [...(out.get(e.conn) ?? []), e.command.verb])
  }
  return out
}

const PASSWORD = 'tr0ub4dor'

for (const dialect of [7, 8, 12, 15, 18]) {
  test(`a recorded MSNP${dialect} session replayed against a fresh lab server gets the same replies in the same order`, async (t) => {
    const password = dialect < 8 ? PASSWORD : undefined
    const { file } = await recordLabSession(t, dialect, password)
    const recording = await loadRecording(file)
    const plan = planReplay(recording.events)
    // alice and bob: DS, NS and one switchboard each; bob's is opened by the RNG alice's CAL causes
    assert.deepEqual(plan.connections.map((c) => `${c.role}:${c.opener.kind === 'referral' ? c.opener.via : 'connect'}`),
      ['DS:connect', 'NS:XFR', 'DS:connect', 'NS:XFR', 'SB:XFR', 'SB:RNG'])
    const fresh = await lab(t, password !== undefined ? { password } : {})
    const live: ScopeEvent[] = []
    const report = await replayClient(plan, { to: { host: HOST, port: fresh.ds.port }, sink: (e) => { live.push(e) }, ...(password !== undefined ? { password } : {}) }).done
    assert.equal(report.completed, true, report.reason ?? '')
    assert.deepEqual(report.differences, [])
    const recorded = serverVerbs(recording.events)
    const got = serverVerbs(live)
    for (const c of report.connections) {
      assert.deepEqual(got.get(c.live ?? '-'), recorded.get(c.recorded), `${c.recorded} replayed as ${c.live}`)
    }
    // challenges were answered afresh and accepted
    const qry = live.filter((e) => e.kind === 'command' && e.command.verb === 'QRY' && e.command.from === 'server')
    assert.equal(qry.length, 2)
    // bob's switchboard received alice's text again
    const texts = live.filter((e) => e.kind === 'command' && e.command.from === 'server' && e.command.verb === 'MSG' && e.role === 'SB')
      .map((e) => e.kind === 'command' ? e.command.payloadRaw?.toString('utf8') ?? '' : '')
    assert.ok(texts.some((x) => x.endsWith(TEXTS.hello)) && texts.some((x) => x.endsWith(TEXTS.reply)))
    await allClosed(fresh)
  })
}

test('a server that answers with an error instead of OK: the difference is reported and the replay stops', async (t) => {
  const { file } = await recordLabSession(t, 7, PASSWORD)
  const plan = planReplay((await loadRecording(file)).events)
  const fresh = await lab(t, { password: 'something else' })
  const live: ScopeEvent[] = []
  const report = await replayClient(plan, { to: { host: HOST, port: fresh.ds.port }, password: PASSWORD, sink: (e) => { live.push(e) } }).done
  assert.equal(report.completed, false)
  const fatal = report.differences.filter((d) => d.fatal)
  assert.equal(fatal.length, 1)
  const d = fatal[0]!
  assert.equal(d.what, 'error')
  assert.equal(d.recordedConn, 'c2')
  assert.match(d.detail, /^error 911 \(.*authentication.*\) instead of USR 4 OK alice@example\.com /i)
  assert.match(d.detail, /in reply to USR 4 MD5 S \*\*\*$/)
  assert.equal(d.actual, 'USR 4'.replace('USR', '911'))
  assert.equal(report.reason, d.detail)
  // the diff is an event too, and every connection the replay opened is closed
  assert.ok(live.some((e) => e.kind === 'replay-diff' && e.detail.includes('911')))
  const opened = live.filter((e) => e.kind === 'session-open').length
  assert.equal(live.filter((e) => e.kind === 'session-close').length, opened)
  // bob never got to log in: his connections did not start before alice's failed step
  assert.deepEqual(report.connections.filter((c) => c.live !== null).map((c) => c.recorded), ['c1', 'c2'])
  await allClosed(fresh)
})

test('a recording served to a lab client: it logs in, opens a switchboard and delivers its messages', async (t) => {
  const { file } = await recordLabSession(t, 12)
  const plan = planReplay((await loadRecording(file)).events)
  const events: ScopeEvent[] = []
  const serve = await startReplayServer(plan, { listen: { host: HOST, port: 0 }, sink: (e) => { events.push(e) } })
  t.after(() => serve.close())
  const alice = new LabClient({ account: 'alice@example.com', dialect: 12, host: HOST, port: serve.address.port, contacts: ['bob@example.net'] })
  t.after(() => alice.close())
  await alice.login()
  await alice.setPresence()
  await alice.waitFor('challenge')
  await alice.waitFor('presence', (p) => p.account === 'bob@example.net')
  const chat = await alice.openChat('bob@example.net')
  await chat.sendText(TEXTS.hello)
  const reply = await chat.waitFor('text')
  assert.equal(reply.text, TEXTS.reply)
  await alice.logout()
  assert.deepEqual(events.filter((e) => e.kind === 'unmatched'), [])
  // every address handed out pointed at the replay server
  const redirects = events.filter((e) => e.kind === 'redirect')
  assert.equal(redirects.length, 2)
  for (const r of redirects) assert.equal(r.kind === 'redirect' && r.handedOut, serve.advertised)
})

test('a client command the recording cannot answer gets the configured reply and an unmatched event', async (t) => {
  const { file } = await recordLabSession(t, 12)
  const plan = planReplay((await loadRecording(file)).events)
  const events: ScopeEvent[] = []
  const serve = await startReplayServer(plan, { listen: { host: HOST, port: 0 }, unmatched: { kind: 'error', code: 502 }, sink: (e) => { events.push(e) } })
  t.after(() => serve.close())
  const alice = new LabClient({ account: 'alice@example.com', dialect: 12, host: HOST, port: serve.address.port, contacts: ['bob@example.net'] })
  t.after(() => alice.close())
  await alice.login()
  await assert.rejects(alice.setPersonalMessage('not in the recording'), /502/)
  const unmatched = events.filter((e) => e.kind === 'unmatched')
  assert.equal(unmatched.length, 1)
  assert.match(unmatched[0]!.kind === 'unmatched' ? unmatched[0]!.detail : '', /^UUX \d+ \d+: c2 expects CHG \d+ .* next; answered with error 502$/)
})

test('the dashboard re-sends a selected command into its live connection, with a fresh TrID', async (t) => {
  const server = await lab(t)
  const proxy = new TcpProxy({ listen: { host: HOST, port: 0 }, upstream: { host: HOST, port: server.ds.port } })
  const events: ScopeEvent[] = []
  proxy.addSink((e) => { events.push(e) })
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const opts = { dialect: 12, host: addr.host, port: addr.port }
  const alice = new LabClient({ ...opts, account: 'alice@example.com' })
  const bob = new LabClient({ ...opts, account: 'bob@example.net' })
  t.after(() => { alice.close(); bob.close() })
  for (const c of [alice, bob]) { await c.login(); await c.setPresence() }
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  await chat.sendText(TEXTS.hello)
  await bobChat.waitFor('text')
  const sent = events.find((e): e is CommandScopeEvent => e.kind === 'command' && e.role === 'SB' && e.command.from === 'client' && e.command.verb === 'MSG')
  assert.ok(sent !== undefined)
  const control = dashboardReplay({ relays: proxy.relays, server: addr })
  const message = await control({ kind: 'command', event: sent })
  assert.match(message, new RegExp(`^re-sent #${sent.seq} to the server of ${sent.conn}: MSG \\d{4} A \\d+$`))
  const again = await bobChat.waitFor('text', (m) => m !== bobChat.seen('text')[0])
  assert.equal(again.text, TEXTS.hello)
  // the server acknowledged the copy with its fresh TrID, which the client never used
  const copy = events.find((e) => e.kind === 'command' && e.conn === sent.conn && e.command.from === 'server' && e.command.verb === 'ACK' && (e.command.trId ?? 0) >= 1000)
  assert.ok(copy !== undefined)
})

test('a two-client recording served and replayed against itself: every connection paired, no differences', async (t) => {
  const { file } = await recordLabSession(t, 18)
  const plan = planReplay((await loadRecording(file)).events)
  const served: ScopeEvent[] = []
  const serve = await startReplayServer(plan, { listen: { host: HOST, port: 0 }, sink: (e) => { served.push(e) } })
  t.after(() => serve.close())
  const report = await replayClient(plan, { to: serve.address }).done
  assert.deepEqual(report.differences, [])
  assert.equal(report.completed, true)
  assert.deepEqual(served.filter((e) => e.kind === 'unmatched'), [])
  // six connections came in: DS and NS of each client (the DS referrals pointed back here), two switchboards
  assert.equal(served.filter((e) => e.kind === 'session-open').length, 6)
  assert.deepEqual(served.filter((e) => e.kind === 'redirect').map((e) => e.kind === 'redirect' ? e.verb : '').sort(), ['RNG', 'XFR', 'XFR', 'XFR'])
})
