/** Replay planning, comparison, rule injections and the API, on decoded events (no sockets). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CommandScopeEvent, ScopeEvent } from '../../src/events.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent, Side } from '../../src/protocol/events.js'
import { commandLine, paceDelay, planReplay, secretFor } from '../../src/replay/plan.js'
import { compareCommands } from '../../src/replay/compare.js'
import { MAX_REPLAY_TIMES, replayDecision, replayInjectCommands, replayInjections } from '../../src/replay/inject.js'
import { resendCommand, replaySession, type LiveConnection } from '../../src/replay/api.js'
import { parseSecrets, parseSpeed } from '../../src/cli/replay.js'
import { parseUnmatched } from '../../src/cli/serve.js'
import { one, scopeEvents, type Step } from '../helpers/scope-events.js'

const st = (conn: string, role: 'NS' | 'SB' | 'DS', from: Side, wire: string): Step => ({ conn, role, from, wire, dialect: 12 })
const open = (conn: string, seq: number, extra: Partial<{ parent: string; via: 'XFR' | 'RNG' }> = {}): ScopeEvent => ({
  seq, ts: '2024-05-01T12:00:00.000Z', kind: 'session-open', conn, transport: 'tcp', client: '192.0.2.1:50000', server: '198.51.100.1:1863', role: '?', ...extra,
})
const close = (conn: string, seq: number, reason: string): ScopeEvent => ({
  seq, ts: '2024-05-01T12:00:09.000Z', kind: 'session-close', conn, transport: 'tcp', client: '192.0.2.1:50000', server: '198.51.100.1:1863', role: '?', reason,
})

/** alice's NS (c1) asks for a switchboard, bob's NS (c2) is rung, both switchboards (c3, c4) chat. */
function session(): ScopeEvent[] {
  const events = scopeEvents([
    st('c1', 'NS', 'client', 'CHG 10 NLN 0\r\n'), st('c1', 'NS', 'server', 'CHG 10 NLN 0\r\n'),
    st('c2', 'NS', 'client', 'CHG 7 NLN 0\r\n'), st('c2', 'NS', 'server', 'CHG 7 NLN 0\r\n'),
    st('c1', 'NS', 'client', 'XFR 11 SB\r\n'), st('c1', 'NS', 'server', 'XFR 11 SB 192.0.2.77:1863 CKI 111.222.333\r\n'),
    st('c3', 'SB', 'client', 'USR 1 alice@example.com 111.222.333\r\n'), st('c3', 'SB', 'server', 'USR 1 OK alice@example.com Alice\r\n'),
    st('c3', 'SB', 'client', 'CAL 2 bob@example.net\r\n'), st('c3', 'SB', 'server', 'CAL 2 RINGING 4242\r\n'),
    st('c2', 'NS', 'server', 'RNG 4242 192.0.2.77:1863 CKI 999.888 alice@example.com Alice\r\n'),
    st('c4', 'SB', 'client', 'ANS 1 bob@example.net 999.888 4242\r\n'), st('c4', 'SB', 'server', 'IRO 1 1 1 alice@example.com Alice\r\n'),
    st('c4', 'SB', 'server', 'ANS 1 OK\r\n'), st('c3', 'SB', 'server', 'JOI bob@example.net Bob\r\n'),
    st('c3', 'SB', 'client', 'MSG 3 A 2\r\nhi'), st('c3', 'SB', 'server', 'ACK 3\r\n'),
  ], 10)
  return [open('c1', 1), open('c2', 2), ...events, open('c3', 100, { parent: 'c1', via: 'XFR' }), open('c4', 101), close('c3', 200, 'client closed'), close('c4', 201, 'server closed')]
}

test('a plan renumbers TrIDs per connection, links switchboards to their XFR and RNG and orders every step', () => {
  const plan = planReplay(session())
  assert.deepEqual(plan.connections.map((c) => c.conn), ['c1', 'c2', 'c3', 'c4'])
  const [c1, c2, c3, c4] = plan.connections
  assert.deepEqual(c1!.sends.map((s) => [s.command.trId, s.liveTrId]), [[10, 1], [11, 2]])
  assert.deepEqual(c1!.expects.map((e) => [e.command.verb, e.after, e.replyTo]), [['CHG', 0, 0], ['XFR', 1, 1]])
  assert.deepEqual(c2!.expects.map((e) => [e.command.verb, e.after, e.replyTo]), [['CHG', 0, 0], ['RNG', 0, null]])
  assert.deepEqual(c3!.opener, { kind: 'referral', parent: 'c1', via: 'XFR', expect: 1 })
  // c4's session-open names no parent: its cookie finds the RNG
  assert.deepEqual(c4!.opener, { kind: 'referral', parent: 'c2', via: 'RNG', expect: 1 })
  assert.deepEqual([c3!.sends[0]!.substitution, c4!.sends[0]!.substitution], ['sb-cookie', 'sb-cookie'])
  assert.deepEqual([c3!.closedBy, c4!.closedBy], ['client', 'server'])
  // steps in recording order across connections, the client's close of c3 included
  assert.deepEqual(plan.connections.flatMap((c) => c.sends.map((s) => `${c.conn}:${s.command.verb}:${s.order}`)).sort((a, b) => Number(a.split(':')[2]) - Number(b.split(':')[2])),
    ['c1:CHG:0', 'c2:CHG:1', 'c1:XFR:2', 'c3:USR:3', 'c3:CAL:4', 'c4:ANS:5', 'c3:MSG:6'])
  assert.equal(c3!.clientClose?.order, 7)
  assert.equal(plan.steps, 8)
})

test('--only keeps one connection and those it referred; a root switchboard keeps its recorded cookie', () => {
  assert.deepEqual(planReplay(session(), { only: 'c1' }).connections.map((c) => c.conn), ['c1', 'c3'])
  const sb = planReplay(session(), { only: 'c4' })
  assert.deepEqual(sb.connections.map((c) => [c.conn, c.opener.kind, c.sends[0]!.substitution]), [['c4', 'connect', undefined]])
  assert.match(sb.connections[0]!.notes[0]!, /recorded cookie/)
  assert.deepEqual(sb.skipped.map((s) => s.conn), ['c1', 'c2', 'c3'])
  assert.deepEqual(planReplay(session(), { only: 'c9' }).skipped, [{ conn: 'c9', reason: 'no such connection in the recording' }])
})

test('a plan marks logins and challenge answers to be done afresh', () => {
  const plan = planReplay(scopeEvents([
    st('c1', 'NS', 'client', 'USR 3 TWN I alice@example.com\r\n'), st('c1', 'NS', 'server', 'USR 3 TWN S lc=1033\r\n'),
    st('c1', 'NS', 'client', 'USR 4 TWN S t=x&p=y\r\n'), st('c1', 'NS', 'server', 'CHL 0 123\r\n'),
    st('c1', 'NS', 'client', 'QRY 5 PROD0090YUAUV{2B 32\r\n00000000000000000000000000000000'),
  ]))
  assert.deepEqual(plan.connections[0]!.sends.map((s) => s.substitution), [undefined, 'twn-ticket', 'qry'])
  assert.equal(plan.productId, 'PROD0090YUAUV{2B')
  assert.equal(commandLine(plan.connections[0]!.sends[1]!.command, 2), 'USR 2 TWN S ***')
  assert.equal(commandLine(plan.connections[0]!.sends[1]!.command, 2, true), 'USR 2 TWN S t=x&p=y')
})

const cmd = (from: Side, wire: string, dialect: number | null = 12): CommandEvent => {
  const [ev] = new MsnpDecoder(from, { dialect }).push(Buffer.from(wire, 'utf8'))
  assert.ok(ev !== undefined && ev.kind === 'command')
  return ev
}

test('comparison ignores what a server chooses per session and names what differs', () => {
  assert.deepEqual(compareCommands(cmd('server', 'XFR 5 SB 192.0.2.1:1863 CKI 1.2.3\r\n'), cmd('server', 'XFR 5 SB 127.0.0.1:40000 CKI 9.9\r\n')), [])
  assert.deepEqual(compareCommands(cmd('server', 'RNG 1 192.0.2.1:1863 CKI 1.2 a@b.c A\r\n'), cmd('server', 'RNG 7 10.0.0.1:1 CKI 3 a@b.c A\r\n')), [])
  assert.deepEqual(compareCommands(cmd('server', 'CHL 0 1234\r\n'), cmd('server', 'CHL 0 5678\r\n')), [])
  assert.deepEqual(compareCommands(cmd('server', 'USR 2 OK a@b.c 1 0\r\n'), cmd('server', 'USR 2 OK a@b.c 0 0\r\n')), [{ what: 'args', detail: 'argument 3: "1" → "0"' }])
  assert.deepEqual(compareCommands(cmd('server', 'VER 1 MSNP12\r\n'), cmd('server', 'VER 3 MSNP12\r\n'), 1), [{ what: 'trId', detail: 'TrID 3 instead of 1' }])
  assert.deepEqual(compareCommands(cmd('server', 'CHG 1 NLN 0\r\n'), cmd('server', '207 1\r\n')), [{ what: 'verb', detail: '207 instead of CHG' }])
  const mime = (type: string, body: string): string => { const p = `MIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n${body}`; return `MSG Hotmail Hotmail ${Buffer.byteLength(p)}\r\n${p}` }
  assert.deepEqual(compareCommands(cmd('server', mime('text/plain', 'hi')), cmd('server', mime('text/html', 'hi'))), [{ what: 'payload', detail: 'header content-type: "text/plain" → "text/html"' }])
  assert.deepEqual(compareCommands(cmd('server', mime('text/plain', 'hi')), cmd('server', mime('text/plain', 'ho'))), [{ what: 'payload', detail: '2 bytes, first difference at byte 1' }])
  const profile = (t: string): string => mime('text/x-msmsgsprofile; charset=UTF-8', '').replace('\r\n\r\n', `\r\nLoginTime: ${t}\r\nClientIP: 192.0.2.${t}\r\n\r\n`)
  assert.deepEqual(compareCommands(cmd('server', profile('1')), cmd('server', profile('2'))), [])
})

test('replay injections: fresh TrIDs toward the server, the client keeps its own, counts are bounded', () => {
  let next = 1000
  const ctx = { nextClientTrId: () => ++next }
  const msg = cmd('client', 'MSG 4 N 2\r\nhi')
  const inj = replayInjections(msg, 2, ctx)
  assert.deepEqual(inj.map((i) => [i.to, i.bytes.toString()]), [['server', 'MSG 1001 N 2\r\nhi'], ['server', 'MSG 1002 N 2\r\nhi']])
  const ack = cmd('server', 'ACK 4\r\n')
  assert.deepEqual(replayInjections(ack, 1, ctx).map((i) => [i.to, i.bytes.toString()]), [['client', 'ACK 4\r\n']])
  assert.deepEqual(replayInjections(cmd('client', 'PNG\r\n'), 1, ctx).map((i) => i.bytes.toString()), ['PNG\r\n'])
  assert.equal(replayInjections(msg, 0, ctx).length, 0)
  assert.equal(replayInjections(msg, 1e9, ctx).length, MAX_REPLAY_TIMES)
  const seq = [cmd('client', 'CAL 2 bob@example.net\r\n'), cmd('client', 'OUT\r\n')]
  const before = next
  assert.deepEqual(replayInjections(msg, 1, ctx, { sequence: seq }).map((i) => i.bytes.toString()), [`CAL ${before + 1} bob@example.net\r\n`, 'OUT\r\n'])
  const d = replayDecision(msg, 1, ctx, { rule: 'twice' })
  assert.deepEqual([d.verdict, d.action, d.rule, d.inject?.length], ['forward', 'replay', 'twice', 1])
  assert.deepEqual(replayInjectCommands(msg, 1), [{ verb: 'MSG', args: ['N'], to: 'server', payload: Buffer.from('hi') }])
  assert.deepEqual(replayInjectCommands(ack, 1), [{ verb: 'ACK', args: [], to: 'client', trId: 4 }])
})

test('the API re-sends a command or a session into a live connection', async () => {
  const sent: [Side, string][] = []
  let next = 50
  const live: LiveConnection = { send: (to, bytes) => { sent.push([to, bytes.toString()]) }, nextClientTrId: () => ++next }
  const ev = one(st('c3', 'SB', 'client', 'MSG 9 A 2\r\nyo')) as CommandScopeEvent
  assert.deepEqual(resendCommand(ev, { connection: live, times: 2 }).map(String), ['MSG 51 A 2\r\nyo', 'MSG 52 A 2\r\nyo'])
  sent.length = 0
  const run = replaySession(session(), { kind: 'connection', connection: live }, { conn: 'c3' })
  const report = await run.done
  assert.equal(report.connections[0]!.sent, 3)
  assert.deepEqual(sent.map(([to, b]) => `${to} ${b.split('\r\n')[0]}`), ['server USR 53 alice@example.com 111.222.333', 'server CAL 54 bob@example.net', 'server MSG 55 A 2'])
})

test('options: speeds, pacing, per-account secrets and unmatched replies', () => {
  assert.equal(parseSpeed(undefined), 'fast')
  assert.equal(parseSpeed('recorded'), 'recorded')
  assert.equal(parseSpeed('2x'), 2)
  assert.throws(() => parseSpeed('-1'), /--speed/)
  assert.equal(paceDelay('fast', 500), 0)
  assert.equal(paceDelay('recorded', 500), 500)
  assert.equal(paceDelay(4, 500), 125)
  const accounts = new Set(['alice@example.com', 'bob@example.net'])
  assert.equal(parseSecrets('--password', ['a=b=c'], accounts), 'a=b=c')
  const per = parseSecrets('--password', ['ALICE@example.com=x=y', 'fallback'], accounts)
  assert.deepEqual(per, { 'alice@example.com': 'x=y', 'bob@example.net': 'fallback' })
  assert.equal(secretFor(per, 'Alice@Example.com'), 'x=y')
  assert.equal(secretFor('all', null), 'all')
  assert.throws(() => parseSecrets('--password', ['one', 'two'], accounts), /ACCOUNT=VALUE/)
  assert.deepEqual(parseUnmatched(undefined), { kind: 'error', code: 500 })
  assert.deepEqual(parseUnmatched('error:715'), { kind: 'error', code: 715 })
  assert.deepEqual(parseUnmatched('ignore'), { kind: 'ignore' })
  assert.throws(() => parseUnmatched('error:5'), /--unmatched/)
})

test('a plan replays what the server received: blocked commands are left out, rewritten ones as forwarded', () => {
  const events = scopeEvents([
    { ...st('c1', 'SB', 'client', 'MSG 1 A 4\r\ndarn'), action: 'rewrite' },
    { ...st('c1', 'SB', 'client', 'MSG 2 A 3\r\nbad'), action: 'block' },
    st('c1', 'SB', 'server', 'ACK 1\r\n'),
  ])
  const first = events[0]
  assert.ok(first?.kind === 'command')
  first.forwarded = Buffer.from('MSG 1 A 4\r\n****')
  const plan = planReplay(events)
  const c = plan.connections[0]!
  assert.deepEqual(c.sends.map((s) => s.command.payloadRaw?.toString()), ['****'])
  assert.match(c.notes[0]!, /^1 client command blocked by a rule/)
})

test('replies to commands the recording does not hold are optional', () => {
  const plan = planReplay(scopeEvents([
    st('c1', 'SB', 'client', 'MSG 4 A 2\r\nhi'), st('c1', 'SB', 'server', 'ACK 4\r\n'),
    st('c1', 'SB', 'server', 'ACK 1001\r\n'), st('c1', 'SB', 'server', 'JOI bob@example.net Bob\r\n'),
  ]))
  assert.deepEqual(plan.connections[0]!.expects.map((e) => [e.command.verb, e.replyTo, e.optional]), [['ACK', 0, false], ['ACK', null, true], ['JOI', null, false]])
})
