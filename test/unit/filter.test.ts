import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkFilter, FilterError, parseFilter } from '../../src/filter.js'
import type { ScopeEvent } from '../../src/events.js'
import { mimeText, msg, p2pPayload, scopeEvents, serverMsg, slpInvite } from '../helpers/scope-events.js'

const invite = slpInvite()
const p2p = p2pPayload({ sessionId: 0, identifier: 7, totalSize: invite.length, flags: 0 }, invite)

const EVENTS = scopeEvents([
  { conn: 'c1', role: 'DS', from: 'client', wire: 'VER 1 MSNP8 CVR0\r\n', account: null },
  { conn: 'c2', role: 'NS', from: 'server', wire: 'USR 7 OK alice@example.com Alice 1 0\r\n', account: 'alice@example.com', dialect: 8 },
  { conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 9 NLN 0\r\n', account: 'alice@example.com', action: 'block', rule: 'stay-hidden', dialect: 8 },
  { conn: 'c3', role: 'SB', from: 'client', wire: msg(4, 'N', mimeText('hello Bob')), account: 'alice@example.com', dialect: 8 },
  { conn: 'c3', role: 'SB', from: 'server', wire: serverMsg('bob@example.net', 'Bob', mimeText('Hi Alice!')), account: 'alice@example.com', dialect: 8 },
  { conn: 'c3', role: 'SB', from: 'client', wire: Buffer.concat([Buffer.from(`MSG 5 D ${p2p.length}\r\n`), p2p]), account: 'alice@example.com', action: 'rewrite', rule: 'strip', dialect: 8 },
  { conn: 'c3', role: 'SB', from: 'server', wire: '282 5\r\n', account: 'alice@example.com', dialect: 8 },
  { conn: 'c4', role: '?', from: 'server', wire: 'garbage here\r\n', transport: 'http' },
])
const ALL: ScopeEvent[] = [...EVENTS, { seq: 99, ts: '2024-05-01T12:01:00Z', kind: 'session-close', conn: 'c3', transport: 'tcp', client: null, server: null, role: 'SB', reason: 'peer closed' }]

const seqs = (f: string): number[] => {
  const filter = parseFilter(f)
  assert.ok(filter !== null)
  return ALL.filter((e) => filter.match(e)).map((e) => e.seq)
}

test('the event table is what the filters below expect', () => {
  assert.deepEqual(ALL.map((e) => (e.kind === 'command' ? e.command.verb : e.kind)), ['VER', 'USR', 'CHG', 'MSG', 'MSG', 'MSG', '282', 'malformed', 'session-close'])
})

test('simple filters', () => {
  assert.deepEqual(seqs('~verb MSG'), [4, 5, 6])
  assert.deepEqual(seqs('~verb msg'), [4, 5, 6])
  assert.deepEqual(seqs('~from client'), [1, 3, 4, 6])
  assert.deepEqual(seqs('~from server'), [2, 5, 7, 8])
  assert.deepEqual(seqs('~role SB'), [4, 5, 6, 7, 99])
  assert.deepEqual(seqs('~role ?'), [8])
  assert.deepEqual(seqs('~account alice@example.com'), [2, 3, 4, 5, 6, 7])
  assert.deepEqual(seqs('~account bob@'), [5])
  assert.deepEqual(seqs('~ct text/plain'), [4, 5])
  assert.deepEqual(seqs('~p2p'), [6])
  assert.deepEqual(seqs('~err'), [7, 8])
  assert.deepEqual(seqs('~blocked'), [3])
  assert.deepEqual(seqs('~rewritten'), [6])
  assert.deepEqual(seqs('~rule stay'), [3])
  assert.deepEqual(seqs('~conn c3'), [4, 5, 6, 7, 99])
  assert.deepEqual(seqs('~kind malformed'), [8])
  assert.deepEqual(seqs('~kind session-close'), [99])
  assert.deepEqual(seqs('~trid 9'), [3])
  // VER's own offer tells the decoder the dialect even before the connection knows it
  assert.deepEqual(seqs('~dialect MSNP8'), [1, 2, 3, 4, 5, 6, 7])
  assert.deepEqual(seqs('~dialect 12'), [])
  assert.deepEqual(seqs('~gw'), [8])
  assert.deepEqual(seqs('~text alice'), [5])
  assert.deepEqual(seqs('~h TypingUser'), [])
  assert.deepEqual(seqs('~h P2P-Dest'), [6])
  assert.deepEqual(seqs('~payload'), [4, 5, 6])
})

test('free text matches verb, args and message text, case-insensitively', () => {
  assert.deepEqual(seqs('hello'), [4])
  assert.deepEqual(seqs('NLN'), [3])
  assert.deepEqual(seqs('usr'), [2])
  assert.deepEqual(seqs('"hi alice"'), [5])
  assert.deepEqual(seqs("'peer closed'"), [99])
  assert.deepEqual(seqs('INVITE'), [6])
})

test('&, |, !, parentheses and juxtaposition', () => {
  assert.deepEqual(seqs('~verb MSG & ~from client'), [4, 6])
  assert.deepEqual(seqs('~verb MSG ~from client'), [4, 6])
  assert.deepEqual(seqs('~verb VER | ~verb USR'), [1, 2])
  assert.deepEqual(seqs('!~role SB'), [1, 2, 3, 8])
  assert.deepEqual(seqs('!!~p2p'), [6])
  assert.deepEqual(seqs('~role SB & !(~p2p | ~err)'), [4, 5, 99])
  // & binds tighter than |
  assert.deepEqual(seqs('~verb VER | ~verb MSG & ~from server'), [1, 5])
  assert.deepEqual(seqs('(~verb VER | ~verb MSG) & ~from server'), [5])
})

test('an empty filter is no filter', () => {
  assert.equal(parseFilter(''), null)
  assert.equal(parseFilter('   '), null)
  assert.equal(checkFilter(''), null)
})

test('invalid filters are explained with a position and what was expected', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['~verb', 5, /expected a verb such as MSG after ~verb/],
    ['~verb MSG &', 11, /expected a filter, text, ! or \( at 12, found the end/],
    ['~frm client', 0, /unknown filter ~frm at 1 \(did you mean ~from\?\)/],
    ['~zzzzz', 0, /unknown filter ~zzzzz at 1 \(\? lists the filters\)/],
    ['~from somebody', 6, /~from takes one of client, server, not "somebody"/],
    ['~role XX', 6, /~role takes one of DS, NS, SB, \?/],
    ['(~verb MSG', 10, /expected \) to close the \( at 1/],
    ['~verb MSG )', 10, /unmatched \) at 11/],
    ['"unterminated', 13, /unterminated quote/],
    ['~kind blah', 6, /~kind takes one of command, malformed/],
    ['~trid x', 6, /~trid takes a number/],
    ['~', 0, /expected a filter name after ~ at 1, such as ~verb/],
    ['| ~p2p', 0, /expected a filter, text, ! or \( at 1, found "\|"/],
    ['~p2p & & ~err', 7, /found "&"/],
  ]
  for (const [text, position, message] of cases) {
    const err = checkFilter(text)
    assert.ok(err instanceof FilterError, text)
    assert.equal(err.position, position, text)
    assert.match(err.message, message, text)
    assert.ok(err.expected.length > 0)
    assert.throws(() => parseFilter(text), FilterError)
  }
})

test('~marked and ~held ask the context', () => {
  const f = parseFilter('~marked | ~held')!
  const marked = new Set([3])
  const ctx = { marked: (e: ScopeEvent) => marked.has(e.seq), held: (e: ScopeEvent) => e.seq === 5 }
  assert.deepEqual(ALL.filter((e) => f.match(e, ctx)).map((e) => e.seq), [3, 5])
  assert.deepEqual(ALL.filter((e) => f.match(e)).map((e) => e.seq), [])
})
