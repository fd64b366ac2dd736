/**
 * Synthetic captures with exact ground truth (../shared/tools/gen_msnp_pcap.py --truth), made in
 * a temporary folder: every command of every connection, per direction and in order (name,
 * parameters with the payload length, payload length and CRC-32), under reordering,
 * retransmission, overlaps, lines split anywhere, IPv6, Linux cooked capture and the HTTP gateway.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import type { ScopeEvent } from '../../src/events.js'
import { importCapture } from '../../src/transport/pcap-import.js'
import { checker, compareWithTruth, generate, generatorMissing, structuredParams, tempDir, type Truth } from '../helpers/capture-truth.js'

const missing = generatorMissing()
let tmp: ReturnType<typeof tempDir> | null = null
before(() => { if (missing === null) tmp = tempDir() })
after(() => tmp?.remove())

async function importAll(file: string): Promise<ScopeEvent[]> {
  const events: ScopeEvent[] = []
  const result = await importCapture(file, (e) => { events.push(e) })
  assert.deepEqual(result.warnings, [])
  return events
}

function check(events: ScopeEvent[], truth: Truth): void {
  const { mismatches, commands, unmatched } = compareWithTruth(events, truth)
  assert.ok(commands > 100, `only ${commands} commands in the truth`)
  assert.deepEqual(mismatches.slice(0, 3), [])
  assert.deepEqual(unmatched, [])
  // the structured fields say what the raw line says
  for (const e of events) {
    if (e.kind !== 'command') continue
    const line = e.command.raw.toString('utf8', 0, e.command.raw.indexOf(0x0d))
    assert.deepEqual(structuredParams(e), line.split(' ').slice(1), line)
  }
  for (const kind of ['malformed', 'gap'] as const) assert.equal(events.filter((e) => e.kind === kind).length, 0, kind)
  const opens = events.filter((e) => e.kind === 'session-open').length
  assert.equal(events.filter((e) => e.kind === 'session-close').length, opens)
}

const cases: Array<[string, string[]]> = [
  ['reordered, retransmitted, overlapping, lines split anywhere', ['--sessions', '6', '--seed', '21', '--gateway-rate', '0', '--ooo-rate', '0.25', '--retrans-rate', '0.25', '--split-rate', '0.3', '--messages-per-sb', '6']],
  ['IPv6 over Linux cooked capture', ['--sessions', '4', '--seed', '22', '--ipv6', '--sll', '--ooo-rate', '0.1', '--retrans-rate', '0.1', '--messages-per-sb', '6']],
  ['HTTP gateway, direct and through a proxy on 8080', ['--sessions', '5', '--seed', '2', '--gateway-rate', '1', '--ooo-rate', '0.1', '--retrans-rate', '0.1', '--split-rate', '0.2', '--messages-per-sb', '6']],
]

for (const [name, args] of cases) {
  test(`every command matches the ground truth: ${name}`, { skip: missing ?? false }, async () => {
    const { pcap, truth } = generate(tmp!.dir, name.replace(/\W+/g, '-'), args)
    check(await importAll(pcap), truth)
    if (name.startsWith('HTTP')) {
      assert.ok(truth.streams.some((s) => s.server.port === 8080) && truth.streams.some((s) => s.server.port === 80), 'both gateway paths present')
    }
  })
}

test('MSNP on another port is found by its content: 1863 rewritten to 5555 everywhere', { skip: missing ?? false }, async () => {
  const { pcap, truth } = generate(tmp!.dir, 'port', ['--sessions', '3', '--seed', '25', '--gateway-rate', '0', '--messages-per-sb', '4'])
  const bytes = readFileSync(pcap)
  for (let off = 24; off + 16 <= bytes.length; off += 16 + bytes.readUInt32LE(off + 8)) {
    const tcp = off + 16 + 14 + 20
    for (const at of [tcp, tcp + 2]) if (bytes.readUInt16BE(at) === 1863) bytes.writeUInt16BE(5555, at)
  }
  const moved = path.join(tmp!.dir, 'port-5555.pcap')
  writeFileSync(moved, bytes)
  for (const st of truth.streams) if (st.server.port === 1863) st.server.port = 5555
  check(await importAll(moved), truth)
})

test('the shared checker agrees with the truth for the same capture (the test inputs are sound)', { skip: missing ?? (!existsSync(checker) && 'no checker') }, () => {
  const { pcap, truthFile } = generate(tmp!.dir, 'checked', ['--sessions', '3', '--seed', '23', '--ooo-rate', '0.2', '--retrans-rate', '0.2', '--messages-per-sb', '4'])
  const r = spawnSync('python3', [checker, pcap, truthFile], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('connections are numbered in the order of their first byte', { skip: missing ?? false }, async () => {
  const { pcap } = generate(tmp!.dir, 'order', ['--sessions', '4', '--seed', '24', '--gateway-rate', '0', '--split-rate', '0', '--messages-per-sb', '4'])
  const events = await importAll(pcap)
  const firstCommand = new Map<string, string>()
  for (const e of events) if (e.kind === 'command' && !firstCommand.has(e.conn)) firstCommand.set(e.conn, e.ts)
  const opens = events.filter((e) => e.kind === 'session-open').map((e) => e.conn)
  assert.deepEqual(opens, opens.map((_, i) => `c${i + 1}`))
  const times = opens.map((c) => firstCommand.get(c)!)
  assert.deepEqual(times, [...times].sort())
})
