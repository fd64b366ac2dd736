import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CommandScopeEvent, ScopeEvent } from '../../src/events.js'
import { parseFilter } from '../../src/filter.js'
import { Actions, editedBytes, type DashboardControls, type ReplayRequest } from '../../src/tui/actions.js'
import { ChatLog } from '../../src/tui/chat.js'
import { ConnTable } from '../../src/tui/conns.js'
import { LineEditor, TextEditor } from '../../src/tui/editors.js'
import { DashboardModel } from '../../src/tui/model.js'
import { chatRows, wrapWords } from '../../src/tui/panes.js'
import { EventView } from '../../src/tui/view.js'
import { mimeText, msg, one, scopeEvents, serverMsg } from '../helpers/scope-events.js'

const base = { transport: 'tcp' as const, client: '192.0.2.1:5000', server: '198.51.100.1:1863' }

/** A notification session that refers a switchboard, a chat in it, and both closing. */
function session(): ScopeEvent[] {
  const evs: ScopeEvent[] = [
    { ...base, seq: 1, ts: '2024-05-01T12:00:00Z', kind: 'session-open', conn: 'c1', role: 'DS' },
    { ...base, seq: 2, ts: '2024-05-01T12:00:01Z', kind: 'session-open', conn: 'c2', role: 'NS', parent: 'c1', via: 'XFR' },
  ]
  const cmds = scopeEvents([
    { conn: 'c2', role: 'NS', from: 'client', wire: 'VER 1 MSNP8 CVR0\r\n', dialect: 8 },
    { conn: 'c2', role: 'NS', from: 'server', wire: 'USR 6 OK alice@example.com Alice 1 0\r\n', account: 'alice@example.com', dialect: 8 },
    { conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 7 AWY 0\r\n', account: 'alice@example.com', dialect: 8, action: 'block', rule: 'no-away' },
  ], 3)
  evs.push(...cmds)
  evs.push({ ...base, seq: 6, ts: '2024-05-01T12:00:02Z', kind: 'session-open', conn: 'c3', role: 'SB', parent: 'c2', via: 'XFR', transport: 'http' })
  evs.push(...scopeEvents([
    { conn: 'c3', role: 'SB', from: 'server', wire: 'JOI bob@example.net Bob\r\n', account: 'alice@example.com', transport: 'http' },
    { conn: 'c3', role: 'SB', from: 'client', wire: msg(4, 'U', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n'), account: 'alice@example.com', transport: 'http' },
    { conn: 'c3', role: 'SB', from: 'client', wire: msg(5, 'N', mimeText('hello Bob')), account: 'alice@example.com', transport: 'http', action: 'rewrite', rule: 'polite' },
    { conn: 'c3', role: 'SB', from: 'server', wire: serverMsg('bob@example.net', 'Bob', 'MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n'), account: 'alice@example.com', transport: 'http' },
    { conn: 'c3', role: 'SB', from: 'server', wire: '911 6\r\n', account: 'alice@example.com', transport: 'http' },
  ], 7))
  evs.push({ ...base, seq: 12, ts: '2024-05-01T12:00:09Z', kind: 'session-close', conn: 'c3', role: 'SB', reason: 'client closed', transport: 'http' })
  return evs
}

test('the model counts events, bytes, blocked, rewritten, rule hits and errors', () => {
  const m = new DashboardModel({ memoryBudget: 1e8 })
  for (const ev of session()) m.push(ev)
  assert.deepEqual({ ...m.counters, bytes: m.counters.bytes > 0 }, { events: 12, commands: 8, bytes: true, blocked: 1, rewritten: 1, errors: 1, ruleHits: 2 })
  assert.deepEqual([...m.ruleHits], [['no-away', 1], ['polite', 1]])
  m.close()
})

test('the connection tree: per account, dispatch → notification → switchboard, with role, dialect and state', () => {
  const t = new ConnTable()
  session().forEach((ev, i) => t.add(ev, i))
  const rows = t.rows().map((r) => `${r.prefix}${r.conn ?? `[${r.account}]`}`)
  assert.deepEqual(rows, ['[alice@example.com]', 'c1', '└ c2', '  └ c3'])
  const c2 = t.get('c2')!
  assert.equal(c2.role, 'NS')
  assert.equal(c2.dialect, 8)
  assert.equal(ConnTable.describeState(c2), 'away')
  const c3 = t.get('c3')!
  assert.equal(c3.transport, 'http')
  assert.equal(ConnTable.describeState(c3), 'closed: client closed')
  assert.deepEqual([...c3.participants], ['bob@example.net'])
  assert.equal(t.openCount, 2)
  assert.equal(t.size, 3)
})

test('the connection tree forgets the oldest closed connections past its bound', () => {
  const t = new ConnTable(10)
  const forgotten: string[] = []
  t.onForget = (c) => forgotten.push(...c)
  for (let i = 1; i <= 30; i++) {
    t.add({ ...base, seq: i * 2, ts: '2024-05-01T12:00:00Z', kind: 'session-open', conn: `c${i}`, role: 'SB' }, i * 2)
    if (i % 2 === 0) t.add({ ...base, seq: i * 2 + 1, ts: '2024-05-01T12:00:00Z', kind: 'session-close', conn: `c${i}`, role: 'SB', reason: 'done' }, i * 2 + 1)
  }
  assert.ok(t.size <= 16, `size ${t.size}`)
  assert.ok(forgotten.length > 0 && forgotten.every((c) => Number(c.slice(1)) % 2 === 0), 'only closed ones are forgotten')
  assert.ok(t.get('c1') !== undefined, 'open connections stay')
})

test('the chat log: text, nudges, joins; typing collapses and gives way to the message', () => {
  const chat = new ChatLog(5)
  session().forEach((ev, i) => chat.add(ev, i))
  const conv = chat.get('c3')!
  assert.deepEqual(conv.lines.map((l) => `${l.kind}:${l.who}:${l.text}`), [
    'join:bob@example.net:joined',
    'text:alice@example.com:hello Bob',
    'nudge:bob@example.net:sent a nudge',
  ])
  assert.equal(chat.latest, 'c3')
  for (let i = 0; i < 20; i++) chat.add(one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(10 + i, 'N', mimeText(`line ${i}`)) }), 100 + i)
  assert.ok(conv.lines.length <= 7)
  assert.equal(conv.lines[conv.lines.length - 1]!.text, 'line 19')
  assert.equal(conv.dropped + conv.lines.length, 23)
})

test('chat rows wrap under the sender, cutting words longer than a row', () => {
  assert.deepEqual(wrapWords('the quick brown fox jumps', 10, 8), ['the quick', 'brown', 'fox', 'jumps'])
  assert.deepEqual(wrapWords('abcdefghijkl', 5, 5), ['abcde', 'fghij', 'kl'])
  assert.deepEqual(wrapWords('今日はどうでしたか', 6, 6), ['今日は', 'どうで', 'したか'])
  const rows = chatRows({ kind: 'text', who: 'bob@example.net', text: 'a message long enough to wrap twice', ts: '2024-05-01T12:00:00Z', index: 0, from: 'server' }, 34)
  assert.equal(rows.length, 3)
  assert.match(rows[0]!, /^\{gray-fg\}12:00:00\{\/gray-fg\} \{yellow-fg\}\{bold\}bob@example\.net\{\/bold\}\{\/yellow-fg\}: a$/)
  assert.equal(rows[1], '  message long enough to wrap')
  assert.equal(rows[2], '  twice')
  // too narrow for text beside the sender: the text goes below
  const narrow = chatRows({ kind: 'text', who: 'bob@example.net', text: 'hi', ts: '2024-05-01T12:00:00Z', index: 0, from: 'server' }, 20)
  assert.deepEqual(narrow.slice(1), ['  hi'])
})

test('a filter is matched against stored events in slices while new events are matched as they come', () => {
  const m = new DashboardModel({ memoryBudget: 50_000, spillDir: tmpdir() })
  const all: ScopeEvent[] = []
  for (let i = 0; i < 400; i++) {
    const ev = i % 3 === 0
      ? one({ conn: `c${i % 7}`, role: 'SB', from: 'client', wire: msg(i, 'N', mimeText(`m${i}`)) })
      : one({ conn: `c${i % 7}`, role: 'NS', from: 'server', wire: `NLN NLN user${i}@example.com U 0\r\n` })
    const e = { ...ev, seq: i + 1 }
    all.push(e)
    m.push(e)
  }
  assert.ok(m.store.inMemory < 400, 'some events were spilled')
  const f = parseFilter('~verb MSG & ~conn c3')!
  m.setFilter(f)
  assert.ok(m.view.scanning)
  let slices = 0
  while (!m.view.scan(37)) slices++
  assert.ok(slices > 5)
  for (let i = 400; i < 450; i++) {
    const e = { ...one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(i, 'N', mimeText(`late ${i}`)) }), seq: i + 1 }
    all.push(e)
    m.push(e)
  }
  const expected = all.filter((e) => f.match(e)).map((e) => e.seq)
  const got = Array.from({ length: m.view.length }, (_, p) => m.store.get(m.view.at(p))!.seq)
  assert.deepEqual(got, expected)
  assert.equal(m.view.positionOf(m.view.at(3)), 3)
  m.setFilter(null)
  assert.equal(m.view.length, 450)
  m.close()
})

test('the filtered list is bounded: the oldest matches leave it', () => {
  const m = new DashboardModel({ memoryBudget: 1e8 })
  const view = new EventView(m.store, {}, 10)
  view.setFilter(parseFilter('~verb PNG'))
  for (let i = 0; i < 25; i++) {
    const e = { ...one({ conn: 'c1', role: 'NS', from: 'client', wire: 'PNG\r\n' }), seq: i + 1 }
    const idx = m.push(e)
    view.added(e, idx)
  }
  assert.equal(view.length, 10)
  assert.equal(view.dropped, 15)
  assert.equal(m.store.get(view.at(0))!.seq, 16)
  m.close()
})

test('follow, move, pause: the selection stays put while events arrive, until following again', () => {
  const m = new DashboardModel({ memoryBudget: 1e8 })
  const push = (n: number): void => { for (let i = 0; i < n; i++) m.push({ ...one({ conn: 'c1', role: 'NS', from: 'client', wire: 'PNG\r\n' }), seq: m.counters.events + 1 }) }
  push(10)
  assert.equal(m.selPos, 9)
  m.move(-3)
  assert.equal(m.follow, false)
  assert.equal(m.store.get(m.selected)!.seq, 7)
  push(5)
  assert.equal(m.store.get(m.selected)!.seq, 7, 'not following: the same event stays selected')
  m.setFollow(true)
  assert.equal(m.store.get(m.selected)!.seq, 15)
  m.setPaused(true)
  push(5)
  assert.equal(m.listLength, 15, 'paused: the list does not grow')
  assert.equal(m.view.length, 20)
  assert.equal(m.counters.events, 20, 'but every event is counted')
  m.setPaused(false)
  assert.equal(m.listLength, 20)
  assert.equal(m.toggleMark(3), true)
  assert.equal(parseFilter('~marked')!.match(m.store.get(2)!, m.filterContext), true)
  m.close()
})

function withHeld(): { m: DashboardModel; controls: DashboardControls; calls: unknown[][]; said: string[]; actions: Actions; held: CommandScopeEvent } {
  const m = new DashboardModel({ memoryBudget: 1e8 })
  const calls: unknown[][] = []
  const said: string[] = []
  const controls: DashboardControls = {
    release: (seq, bytes) => { calls.push(['release', seq, bytes?.toString('utf8')]) },
    replay: (r: ReplayRequest) => { calls.push(['replay', r.kind, r.kind === 'command' ? r.event.seq : r.events.map((e) => e.seq)]); return 'sent' },
  }
  for (const ev of session()) m.push(ev)
  const held = one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(8, 'A', mimeText('secret plan')) }) as CommandScopeEvent
  held.seq = 13
  m.push(held, true)
  let selected: ScopeEvent | undefined = held
  const actions = new Actions(m, controls, (t) => said.push(t), () => selected)
  void (selected = held)
  return { m, controls, calls, said, actions, held }
}

test('held commands: release one, edit one (the payload length is recomputed), release all', () => {
  const { m, calls, said, actions, held } = withHeld()
  assert.deepEqual([...m.held.keys()], [13])
  assert.equal(parseFilter('~held')!.match(held, m.filterContext), true)
  const editable = actions.editable()
  assert.equal(editable, held)
  const text = held.command.raw.toString('utf8').replace(/\r\n/g, '\n').replace('secret plan', 'public plan, longer')
  actions.releaseEdited(held, text)
  assert.equal(m.held.size, 0)
  const [, seq, bytes] = calls[0]! as [string, number, string]
  assert.equal(seq, 13)
  const payload = mimeText('public plan, longer')
  assert.equal(bytes, `MSG 8 A ${Buffer.byteLength(payload)}\r\n${payload}`)
  assert.match(said.at(-1)!, /released #13 as edited/)
  actions.release(false)
  assert.match(said.at(-1)!, /not held/)
})

test('editedBytes keeps commands without payload to one line and recomputes lengths', () => {
  const chg = one({ conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 7 AWY 0\r\n' }) as CommandScopeEvent
  assert.equal(editedBytes('CHG 7 NLN 0\nignored', chg).toString(), 'CHG 7 NLN 0\r\n')
  const m = one({ conn: 'c3', role: 'SB', from: 'client', wire: msg(5, 'N', mimeText('hi')) }) as CommandScopeEvent
  const out = editedBytes('MSG 5 N 999\nMIME-Version: 1.0\nContent-Type: text/plain\n\nhéllo', m).toString('utf8')
  const payload = 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhéllo'
  assert.equal(out, `MSG 5 N ${Buffer.byteLength(payload)}\r\n${payload}`)
  assert.equal(Buffer.byteLength(payload), 53, 'é is two bytes')
})

test('replay goes through the controls; absent controls say they are not available', async () => {
  const { m, calls, said, actions } = withHeld()
  actions.replay(false)
  assert.deepEqual(calls.at(-1), ['replay', 'command', 13])
  assert.equal(said.at(-1), 'sent')
  actions.replay(true)
  await new Promise((r) => setTimeout(r, 20))
  const replayed = calls.at(-1)!
  assert.equal(replayed[1], 'session')
  assert.deepEqual(replayed[2], [7, 8, 9, 10, 11, 13], 'every command of the connection, in order')
  const bare = new Actions(m, {}, (t) => said.push(t), () => undefined)
  bare.reloadRules()
  assert.equal(said.at(-1), 'reload rules: not available for this source')
  bare.release(true)
  assert.equal(said.at(-1), 'release: not available for this source')
})

test('save writes the shown events as JSON lines with raw bytes, and never overwrites', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tui-save-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { m, said, actions } = withHeld()
  m.setFilter(parseFilter('~verb MSG'))
  while (!m.view.scan(100)) { /* match the stored events */ }
  const path = join(dir, 'out.jsonl')
  assert.equal(await actions.save(path), 4)
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; raw: string })
  assert.deepEqual(lines.map((l) => l.seq), [8, 9, 10, 13])
  assert.match(Buffer.from(lines[3]!.raw, 'base64').toString(), /secret plan$/)
  assert.equal(await actions.save(path), -1)
  assert.match(said.at(-1)!, /save failed: .*EEXIST/)
  const got: number[] = []
  const custom = new Actions(m, { saveEvents: async (_p, events) => { for await (const e of events) got.push(e.seq); return got.length } }, () => {}, () => undefined)
  assert.equal(await custom.save(join(dir, 'x.pcap')), 4)
  assert.deepEqual(got, [8, 9, 10, 13])
})

test('the line editor: typing, moving, deleting words, history, submit and cancel', () => {
  const e = new LineEditor('', ['~verb MSG', '~p2p'])
  for (const ch of '~role SB') e.key(ch, { name: ch })
  assert.equal(e.value, '~role SB')
  e.key(undefined, { name: 'left' }); e.key(undefined, { name: 'left' })
  e.key('!', { name: '!' })
  assert.equal(e.value, '~role !SB')
  e.key(undefined, { name: 'w', ctrl: true })
  assert.equal(e.value, '~role SB')
  e.key(undefined, { name: 'up' })
  assert.equal(e.value, '~p2p')
  e.key(undefined, { name: 'up' })
  assert.equal(e.value, '~verb MSG')
  e.key(undefined, { name: 'backspace' })
  assert.equal(e.value, '~verb MS')
  assert.equal(e.key('\r', { name: 'return' }), 'submit')
  assert.equal(e.key(undefined, { name: 'escape' }), 'cancel')
  assert.equal(e.key('\x07', { name: 'g', ctrl: true }), 'cancel')
  assert.match(e.render(40), /~verb MS\{inverse\} \{\/inverse\}/)
})

test('the text editor: lines, joins, Ctrl-s submits', () => {
  const e = new TextEditor('MSG 1 N 2\nhi')
  e.key(undefined, { name: 'down' })
  e.key(undefined, { name: 'end' })
  for (const ch of ' there') e.key(ch, { name: ch })
  e.key('\r', { name: 'return' })
  for (const ch of 'bye') e.key(ch, { name: ch })
  assert.equal(e.text, 'MSG 1 N 2\nhi there\nbye')
  e.key(undefined, { name: 'home' })
  e.key(undefined, { name: 'backspace' })
  assert.equal(e.text, 'MSG 1 N 2\nhi therebye')
  assert.equal(e.key(undefined, { name: 's', ctrl: true }), 'submit')
  assert.equal(e.render(80, 2).length, 2)
})
