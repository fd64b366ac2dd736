/**
 * Golden tests: every sample capture in captures/ against its expected events
 * (captures/<name>.events.jsonl, the JSON lines of sinks/json.ts with raw), and the public
 * captures of ../shared/captures/ against digests kept in captures/shared.golden.json (their
 * contents stay out of this repository). UPDATE_GOLDEN=1 rewrites the expectations; review the
 * diff. Per-verb `fields` and `payload` are compared only with GOLDEN_STRICT=1: their decoders
 * have golden tests of their own, and a change there should not fail capture import.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { ScopeEvent } from '../../src/events.js'
import { toJsonLine } from '../../src/sinks/json.js'
import { importCapture } from '../../src/transport/pcap-import.js'
import { repoRoot, sharedDir } from '../helpers/capture-truth.js'

const update = process.env.UPDATE_GOLDEN === '1'
const strict = process.env.GOLDEN_STRICT === '1'
const capturesDir = path.join(repoRoot, 'captures')
const sharedCaptures = path.join(sharedDir, 'captures')
const sharedGoldenFile = path.join(capturesDir, 'shared.golden.json')

async function eventLines(file: string): Promise<string[]> {
  const events: ScopeEvent[] = []
  await importCapture(file, (e) => { events.push(e) })
  return events.map((e) => toJsonLine(e, { raw: true }))
}

/** The line without the parts other decoders own (unless strict). */
function comparable(line: string): unknown {
  const o = JSON.parse(line) as Record<string, unknown>
  if (!strict) { delete o.fields; delete o.payload }
  return o
}

const samples = readdirSync(capturesDir).filter((f) => /\.(pcap|pcapng)(\.gz)?$/.test(f)).sort()

test('there are sample captures of every kind', () => {
  assert.ok(samples.some((f) => f.endsWith('.pcapng')))
  assert.ok(samples.includes('msnp-gateway.pcap'))
  assert.ok(samples.includes('msnp-ipv6-sll.pcap'))
})

for (const file of samples) {
  test(`golden: captures/${file}`, async () => {
    const golden = path.join(capturesDir, file.replace(/\.(pcap|pcapng)(\.gz)?$/, '.events.jsonl'))
    const lines = await eventLines(path.join(capturesDir, file))
    if (update) { writeFileSync(golden, lines.join('\n') + '\n'); return }
    assert.ok(existsSync(golden), `${golden} is missing: run UPDATE_GOLDEN=1 npm test`)
    const want = readFileSync(golden, 'utf8').split('\n').filter((l) => l !== '')
    assert.equal(lines.length, want.length, 'number of events')
    for (let i = 0; i < want.length; i++) assert.deepEqual(comparable(lines[i]!), comparable(want[i]!), `event ${i + 1}`)
  })
}

const digest = (lines: string[]): string => createHash('sha256').update(lines.map((l) => JSON.stringify(comparable(l))).join('\n')).digest('hex')

test('golden: ../shared/captures (digests)', { skip: !existsSync(sharedCaptures) && 'no ../shared/captures here' }, async () => {
  const files = readdirSync(sharedCaptures).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort()
  const got: Record<string, { events: number; sha256: string }> = {}
  for (const f of files) {
    const lines = await eventLines(path.join(sharedCaptures, f))
    got[f] = { events: lines.length, sha256: digest(lines) }
  }
  if (update) { writeFileSync(sharedGoldenFile, JSON.stringify(got, null, 2) + '\n'); return }
  const want = JSON.parse(readFileSync(sharedGoldenFile, 'utf8')) as typeof got
  for (const f of files) if (want[f] !== undefined) assert.deepEqual(got[f], want[f], f)
})

test('zeek-dcerpc-mapi-mixed.pcap: the one MSN stream among 23 others, and nothing else', { skip: !existsSync(path.join(sharedCaptures, 'zeek-dcerpc-mapi-mixed.pcap')) && 'no ../shared/captures here' }, async () => {
  const events: ScopeEvent[] = []
  const r = await importCapture(path.join(sharedCaptures, 'zeek-dcerpc-mapi-mixed.pcap'), (e) => { events.push(e) })
  assert.deepEqual(events.map((e) => e.kind), ['session-open', 'command', 'session-close'])
  const cmd = events[1]!
  assert.ok(cmd.kind === 'command' && cmd.command.verb === 'MSG' && cmd.command.from === 'client' && cmd.server?.endsWith(':1863'))
  assert.equal(r.stats!.msnpStreams, 1)
  assert.equal(r.stats!.gatewayStreams, 0)
  assert.ok(r.stats!.ignoredStreams >= 20)
})
