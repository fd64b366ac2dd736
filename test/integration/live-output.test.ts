/**
 * The live output of `proxy`, `demo` and `serve` to standard output: a reader that stops reading
 * (a pipe nobody empties) must not make msnscope queue output without bound. Past the backlog,
 * batches are left out, the sequence numbers show the hole, and standard error says how many
 * events were left out once the output is read again. A --save file that cannot be written is
 * given up, not thrown into the traffic.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { test } from 'node:test'
import type { CliIo } from '../../src/cli/io.js'
import type { ScopeEvent } from '../../src/events.js'
import { startLiveOutput } from '../../src/cli/live-output.js'
import { msg, mimeText, scopeEvents } from '../helpers/scope-events.js'

/** A stdout whose reader has stopped: writes queue up until `release()`. */
class StalledOutput extends Writable {
  readonly chunks: Buffer[] = []
  #waiting: (() => void)[] = []
  constructor() { super({ highWaterMark: 1024 }) }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk)
    this.#waiting.push(done)
  }
  /** The reader reads again: everything queued is taken. */
  release(): void {
    while (this.#waiting.length > 0) this.#waiting.shift()!()
  }
  lines(): Array<Record<string, unknown>> {
    return Buffer.concat(this.chunks).toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  }
}

/** CLI streams whose reader keeps up: what was written to stdout and stderr so far. */
function readOutputs(): { io: CliIo; text: () => string; err: () => string } {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let text = ''
  let err = ''
  stdout.on('data', (c: Buffer) => { text += c.toString() })
  stderr.on('data', (c: Buffer) => { err += c.toString() })
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1' }, stopSignal: new AbortController().signal }
  return { io, text: () => text, err: () => err }
}

/** 512 chat messages numbered from `start`: one batch, written at once. */
const batch = (start: number) => scopeEvents(Array.from({ length: 512 }, (_, i) => ({
  conn: 'c1', role: 'SB' as const, from: 'client' as const, wire: msg(i + 1, 'N', mimeText(`message ${start + i} ${'x'.repeat(200)}`)),
})), start)

test('a stdout nobody reads: output beyond the backlog is left out, counted on stderr, and the rest goes on', async () => {
  const stdout = new StalledOutput()
  const stderr = new PassThrough()
  let err = ''
  stderr.on('data', (c: Buffer) => { err += c.toString() })
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1' }, stopSignal: new AbortController().signal }
  const out = await startLiveOutput(io, { json: true, raw: false, noTui: true, save: [], redact: false, title: 'test', maxBacklog: 64 * 1024 })

  const first = batch(1)
  for (const ev of first) out.sink(ev)
  // the first batch went out and waits unread: more than the backlog allows
  assert.ok(stdout.writableLength > 64 * 1024, `${stdout.writableLength} bytes queued`)
  const queued = stdout.writableLength
  const second = batch(513)
  for (const ev of second) out.sink(ev)
  assert.equal(stdout.writableLength, queued, 'nothing more was queued while stdout was not read')
  assert.equal(err, '', 'nothing is said while stdout is still not read')

  stdout.release()
  const third = batch(1025)
  for (const ev of third) out.sink(ev)
  stdout.release()
  await out.close()

  const seqs = stdout.lines().map((l) => l.seq)
  assert.deepEqual(seqs, [...first, ...third].map((e) => e.seq), 'the first and third batches, whole and in order; the hole shows in seq')
  assert.match(err, /^msnscope: standard output was not read fast enough: 512 events were left out of it \(seq 513 to 1024\); --save keeps every event\n$/)
})

test('a stdout that is read keeps every event', async () => {
  const { io, text, err } = readOutputs()
  const out = await startLiveOutput(io, { json: true, raw: false, noTui: true, save: [], redact: false, title: 'test', maxBacklog: 64 * 1024 })
  const events = [...batch(1), ...batch(513), ...batch(1025)]
  for (const ev of events) out.sink(ev)
  await out.close()
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(text().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { seq: number }).seq), events.map((e) => e.seq))
  assert.equal(err(), '')
})

test('a --save file that cannot be written (a full disk) is given up with one line on stderr; the output goes on', { skip: !existsSync('/dev/full') && 'no /dev/full here' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-full-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // writes to /dev/full fail with ENOSPC, as on a full disk
  const full = join(dir, 'run.jsonl')
  symlinkSync('/dev/full', full)
  const { io, text, err } = readOutputs()
  const out = await startLiveOutput(io, { json: true, raw: false, noTui: true, save: [full, join(dir, 'run.pcap')], redact: true, title: 'test' })
  // enough for the JSONL file to write (64 KB batches) several times over; the pcap needs the
  // connection's session-open
  const first = batch(1)
  const open: ScopeEvent = { ...first[0]!, seq: 0, kind: 'session-open' } as ScopeEvent
  delete (open as { command?: unknown }).command
  delete (open as { action?: unknown }).action
  const events = [open, ...first, ...batch(513), ...batch(1025)]
  for (const ev of events) out.sink(ev)
  await out.close()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(err(), `msnscope: --save ${full}: ENOSPC; the file is no longer written\n`)
  assert.equal(text().trim().split('\n').length, events.length, 'stdout got every event')
  assert.ok(statSync(join(dir, 'run.pcap')).size > 100_000, 'the other file was written')
})
