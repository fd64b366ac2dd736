import { test } from 'node:test'
import assert from 'node:assert/strict'
import { displayWidth, formatEventLine } from '../../src/sinks/console.js'
import { mimeText, msg, one, p2pPayload, scopeEvents, serverMsg, slpInvite } from '../helpers/scope-events.js'
import type { ScopeEvent } from '../../src/events.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import { itemBytes, VECTORS } from '../helpers/vectors.js'

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g
const plain = (ev: ScopeEvent, width?: number): string => formatEventLine(ev, width === undefined ? { color: false } : { color: false, width })

test('a client message line shows time, conn, role, arrow, verb, TrID, args and the text', () => {
  const ev = one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(4, 'N', mimeText('hi there')), account: 'alice@example.com' })
  assert.equal(plain(ev), '12:00:00.010 c3   SB → MSG 4 N  "hi there"')
})

test('a server message shows the arrow towards the client and the sender', () => {
  const ev = one({ conn: 'c3', role: 'SB', from: 'server', wire: serverMsg('bob@example.net', 'Bob', mimeText('hello\r\nworld')) })
  assert.equal(plain(ev), '12:00:00.010 c3   SB ← MSG bob@example.net Bob  "hello ⏎ world"')
})

test('typing, nudge, P2P SLP method and file names are summarised', () => {
  const typing = one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(5, 'U', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n') })
  assert.match(plain(typing), /MSG 5 U {2}typing: alice@example\.com$/)
  const nudge = one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(6, 'N', 'MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n') })
  assert.match(plain(nudge), /MSG 6 N {2}nudge$/)
  const invite = slpInvite()
  const payload = p2pPayload({ sessionId: 0, identifier: 1000, totalSize: invite.length, flags: 0 }, invite)
  const ev = one({ conn: 'c3', role: 'SB', from: 'client', wire: Buffer.concat([Buffer.from(`MSG 7 D ${payload.length}\r\n`), payload]) })
  assert.match(plain(ev), /MSG 7 D {2}P2P SLP INVITE sessionreqbody$/)
  const file = slpInvite('report.pdf')
  const fp = p2pPayload({ sessionId: 0, identifier: 1001, totalSize: file.length, flags: 0 }, file)
  const fev = one({ conn: 'c3', role: 'SB', from: 'client', wire: Buffer.concat([Buffer.from(`MSG 8 D ${fp.length}\r\n`), fp]) })
  assert.match(plain(fev), /file: report\.pdf \(SLP INVITE\)$/)
  const ack = p2pPayload({ sessionId: 0, identifier: 1002, totalSize: 0, flags: 2, ackIdentifier: 1000 }, Buffer.alloc(0))
  const aev = one({ conn: 'c3', role: 'SB', from: 'server', wire: serverMsg('bob@example.net', 'Bob', ack) })
  assert.match(plain(aev), /P2P ACK id 1000$/)
})

test('blocked and rewritten commands are marked with the rule name', () => {
  const blocked = one({ conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 9 NLN 0\r\n', action: 'block', rule: 'stay-hidden' })
  assert.equal(plain(blocked), '12:00:00.010 c2   NS → CHG 9  BLOCKED:stay-hidden  NLN 0')
  const rewritten = one({ conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 9 HDN 0\r\n', action: 'rewrite', rule: 'force-hidden' })
  assert.match(plain(rewritten), / REWRITTEN:force-hidden {2}HDN 0$/)
})

test('colour: verbs by family, errors in red, plain text identical once colours are stripped', () => {
  const [ver, err, chat] = scopeEvents([
    { conn: 'c1', role: 'DS', from: 'client', wire: 'VER 1 MSNP8 CVR0\r\n' },
    { conn: 'c2', role: 'NS', from: 'server', wire: '911 7\r\n' },
    { conn: 'c3', role: 'SB', from: 'client', wire: msg(4, 'A', mimeText('yo')) },
  ])
  for (const ev of [ver!, err!, chat!]) {
    const colored = formatEventLine(ev, { color: true })
    assert.notEqual(colored, plain(ev))
    assert.equal(colored.replace(ANSI, ''), plain(ev))
  }
  assert.match(formatEventLine(ver!, { color: true }), /\x1b\[36mVER\x1b\[39m/) // cyan: auth
  assert.match(formatEventLine(err!, { color: true }), /\x1b\[31m\x1b\[1m911\x1b\[22m\x1b\[39m/) // bold red: error
  assert.match(formatEventLine(chat!, { color: true }), /\x1b\[35m\x1b\[1mMSG/) // magenta: messages
  const blocked = one({ conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 9 NLN 0\r\n', action: 'block', rule: 'r' })
  assert.match(formatEventLine(blocked, { color: true }), /\x1b\[41m/) // red background
})

test('lines are cut to the width with an ellipsis, wide characters counted as two columns', () => {
  const ev = one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(4, 'N', mimeText('今日はどうでしたか？ a long message that goes on and on')) })
  for (const width of [20, 40, 60]) {
    const line = plain(ev, width)
    assert.ok(displayWidth(line) <= width, `${width}: ${line}`)
    assert.ok(line.endsWith('…'))
  }
  const colored = formatEventLine(ev, { color: true, width: 30 })
  assert.ok(displayWidth(colored.replace(ANSI, '')) <= 30)
})

test('control characters in wire text never reach the terminal', () => {
  const ev = one({ conn: 'c3', role: 'SB', from: 'server', wire: serverMsg('eve@example.org', 'Eve', mimeText('\x1b[2Jgotcha\x07\u202e')) })
  const line = plain(ev)
  assert.doesNotMatch(line, /[\x00-\x1f\x7f\u202e]/)
  assert.match(line, /·\[2Jgotcha··/)
})

test('events that are not commands get a label and their details', () => {
  const [bad] = scopeEvents([{ conn: 'c4', role: '?', from: 'server', wire: 'hello there\r\n' }])
  assert.equal(bad!.kind, 'malformed')
  assert.match(plain(bad!), /^12:00:00\.010 c4 {3}\? {2}← BAD not-a-command: /)
  const open: ScopeEvent = { seq: 9, ts: '2024-05-01T12:00:01Z', kind: 'session-open', conn: 'c5', transport: 'http', client: '192.0.2.1:1', server: '198.51.100.1:80', role: 'SB', parent: 'c2', via: 'XFR' }
  assert.equal(plain(open), '12:00:01.000 c5   SB · OPEN 192.0.2.1:1 ⇄ 198.51.100.1:80 gateway via XFR from c2')
  const close: ScopeEvent = { seq: 10, ts: '2024-05-01T12:00:02.5Z', kind: 'session-close', conn: 'c5', transport: 'tcp', client: null, server: null, role: 'SB', reason: 'client closed', bytes: { client: 10, server: 20 } }
  assert.equal(plain(close), '12:00:02.500 c5   SB · CLOSE client closed (10 B up, 20 B down)')
})

test('MSNP21 SDG messages are summarised by their Message-Type (reference vector TV8)', () => {
  const tv8 = VECTORS.TV8
  assert.ok(Array.isArray(tv8))
  const lines = tv8.slice(0, 2).map((it) => {
    const d = new MsnpDecoder(it.dir === 'C' ? 'client' : 'server', { dialect: 21 })
    const [cmd] = d.push(itemBytes(it))
    assert.ok(cmd !== undefined && cmd.kind === 'command')
    return plain({ seq: 1, ts: '2024-05-01T12:00:00Z', kind: 'command', conn: 'c1', transport: 'tcp', client: null, server: null, role: 'NS', command: cmd, action: 'pass' })
  })
  assert.deepEqual(lines, ['12:00:00.000 c1   NS → SDG 21  typing: alice@example.com', '12:00:00.000 c1   NS → SDG 22  "hello"'])
})
