import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventStore } from '../../src/tui/store.js'
import { spillLine, spillParse } from '../../src/tui/spill-codec.js'
import type { ScopeEvent } from '../../src/events.js'
import { mimeText, msg, p2pPayload, scopeEvents, serverMsg, slpInvite } from '../helpers/scope-events.js'

const invite = slpInvite('report.pdf')
const p2p = p2pPayload({ sessionId: 0, identifier: 7, totalSize: invite.length, flags: 0, footer: 2 }, invite)
const SAMPLE = scopeEvents([
  { conn: 'c2', role: 'NS', from: 'client', wire: 'CHG 9 NLN 0\r\n', account: 'alice@example.com', action: 'block', rule: 'r1' },
  { conn: 'c3', role: 'SB', from: 'server', wire: serverMsg('bob@example.net', 'Bob', mimeText('héllo 今日は')), dialect: 12 },
  { conn: 'c3', role: 'SB', from: 'client', wire: Buffer.concat([Buffer.from(`MSG 5 D ${p2p.length}\r\n`), p2p]) },
  { conn: 'c4', role: '?', from: 'server', wire: 'not msnp at all\r\n' },
  { conn: 'c3', role: 'SB', from: 'client', wire: msg(6, 'A', mimeText('bye')) },
])
const extra: ScopeEvent[] = [
  { seq: 100, ts: '2024-05-01T12:00:09Z', kind: 'session-open', conn: 'c5', transport: 'http', client: '192.0.2.1:5', server: '198.51.100.1:80', role: 'SB', parent: 'c2', via: 'XFR' },
  { seq: 101, ts: '2024-05-01T12:00:10Z', kind: 'stats', conn: 'c0', transport: 'tcp', client: null, server: null, role: '?', counters: { events: 5, bytes: 900 } },
]
const ALL = [...SAMPLE, ...extra]

/** Equality that treats Buffers by content and ignores undefined-valued keys. */
function same(a: unknown, b: unknown): void {
  assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)))
}

test('the spill codec gives back equal events: decoded again from raw, Buffers included', () => {
  for (const ev of ALL) {
    const line = spillLine(ev)
    assert.ok(!line.includes('\n'))
    const back = spillParse(line)
    same(back, ev)
    if (ev.kind === 'command' && back.kind === 'command') {
      assert.ok(Buffer.isBuffer(back.command.raw))
      assert.ok(back.command.raw.equals(ev.command.raw))
      assert.equal(back.command.payloadRaw === null, ev.command.payloadRaw === null)
      if (ev.command.payloadRaw !== null) assert.ok(back.command.payloadRaw!.equals(ev.command.payloadRaw))
    }
    if (ev.kind === 'malformed' && back.kind === 'malformed') assert.ok(back.raw.equals(ev.raw))
  }
})

function many(n: number): ScopeEvent[] {
  const out: ScopeEvent[] = []
  for (let i = 0; i < n; i++) {
    const base = ALL[i % ALL.length]!
    out.push({ ...base, seq: i + 1 })
  }
  return out
}

test('a small budget spills the oldest events to disk and reads them back by index', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'store-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const store = new EventStore({ budget: 20_000, dir, blockSize: 16 })
  const events = many(1000)
  for (const ev of events) store.append(ev)
  assert.equal(store.size, 1000)
  assert.ok(store.inMemory > 0 && store.inMemory < 100, `in memory: ${store.inMemory}`)
  assert.ok(store.memoryBytes <= 20_000)
  assert.ok(store.firstInMemory > 900)
  const path = store.spillPath
  assert.ok(path !== null && existsSync(path))
  // spill file: JSON lines with the raw bytes
  const first = readFileSync(path, 'utf8').split('\n')[0]!
  const line = JSON.parse(first) as { seq: number; raw: string }
  assert.equal(line.seq, 1)
  assert.ok(events[0]!.kind === 'command' && Buffer.from(line.raw, 'base64').equals(events[0]!.command.raw))
  // random access, including the block still being filled and the in-memory ring
  for (const i of [0, 1, 15, 16, 17, 500, 999, store.firstInMemory - 1, store.firstInMemory, 998, 333, 0]) {
    const got = store.get(i)
    assert.ok(got !== undefined, `index ${i}`)
    same(got, events[i])
  }
  assert.equal(store.get(1000), undefined)
  assert.equal(store.get(-1), undefined)
  let seen = 0
  store.forEach(0, 1000, (ev, i) => { assert.equal(ev.seq, i + 1); seen++ })
  assert.equal(seen, 1000)
  store.close()
  assert.ok(!existsSync(path))
  assert.equal(store.append(events[0]!), -1)
})

test('a spill file that cannot be written: older events are let go, memory stays bounded, nothing throws', (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'store-test-'))
  t.after(() => rmSync(parent, { recursive: true, force: true }))
  // the spill directory is an existing file: creating the spill file fails (ENOTDIR)
  const notADir = join(parent, 'file')
  writeFileSync(notADir, 'x')
  const store = new EventStore({ budget: 20_000, dir: notADir, blockSize: 16 })
  const events = many(1000)
  for (const ev of events) store.append(ev)
  assert.equal(store.size, 1000)
  assert.equal(store.spillError, 'ENOTDIR')
  assert.equal(store.spillPath, null)
  // whole blocks of 16 are let go; the block being filled is still held as text
  assert.equal(store.lost % 16, 0)
  assert.ok(store.lost > 900 && store.lost <= 1000 - store.inMemory, `${store.lost} let go`)
  assert.ok(store.memoryBytes <= 20_000)
  // what memory holds is there; what would have been spilled is gone
  same(store.get(999)!, events[999])
  assert.equal(store.get(0), undefined)
  let seen = 0
  store.forEach(0, 1000, () => { seen++ })
  assert.ok(seen > 0 && seen < 100, `${seen} events still held`)
  store.close()
})

test('lowering the budget spills at once; a large budget keeps everything in memory', () => {
  const store = new EventStore({ budget: 100_000_000 })
  for (const ev of many(300)) store.append(ev)
  assert.equal(store.inMemory, 300)
  assert.equal(store.spillPath, null)
  store.setBudget(0)
  assert.equal(store.inMemory, 0)
  assert.ok(store.spilledBytes > 0)
  assert.equal(store.get(299)!.seq, 300)
  assert.equal(store.get(0)!.seq, 1)
  store.close()
})

test('the count limit holds whatever the event sizes', () => {
  const store = new EventStore({ budget: 1e12, maxInMemory: 50, blockSize: 8 })
  for (const ev of many(503)) store.append(ev)
  assert.equal(store.inMemory, 50)
  assert.equal(store.get(452)!.seq, 453)
  assert.equal(store.get(7)!.seq, 8)
  store.close()
})

test('events holding a view of a large chunk are kept as compact copies', () => {
  const [ev] = scopeEvents([{ conn: 'c1', role: 'NS', from: 'client', wire: 'PNG\r\n' }])
  const big = Buffer.alloc(1 << 20)
  const raw = Buffer.from('PNG\r\n')
  raw.copy(big, 1000)
  const viewEv: ScopeEvent = ev!.kind === 'command' ? { ...ev!, command: { ...ev!.command, raw: big.subarray(1000, 1005) } } : ev!
  const store = new EventStore({ budget: 1e9 })
  store.append(viewEv)
  const kept = store.get(0)!
  assert.ok(kept.kind === 'command' && kept.command.raw.buffer.byteLength < 65536)
  assert.equal(kept.kind === 'command' && kept.command.raw.toString(), 'PNG\r\n')
  store.close()
})
