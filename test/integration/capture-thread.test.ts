/**
 * Capture files are read by a thread of their own (capture-reader-worker.ts) while the importing
 * thread decodes. Whatever the file, the events and the result must be exactly those of reading
 * it in one thread: every container, damaged and unreadable files, saved JSONL, batches much
 * smaller than the file (so that the reader waits for acknowledgements), and a stop midway.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { ScopeEvent } from '../../src/events.js'
import { toJsonLine } from '../../src/sinks/json.js'
import { importCapture, type ImportOptions, type ImportResult } from '../../src/transport/pcap-import.js'
import { repoRoot, sharedDir, tempDir } from '../helpers/capture-truth.js'
import { conversation, frames, pcapFile, pcapngFile } from '../helpers/pcap-build.js'

interface Outcome { lines: string[]; result: Omit<ImportResult, 'stats'> & { stats: unknown } | null; error: string | null }

async function outcome(file: string, options: ImportOptions): Promise<Outcome> {
  const events: ScopeEvent[] = []
  try {
    const result = await importCapture(file, (e) => { events.push(e) }, options)
    const stats = result.stats === null ? null : { ...result.stats, unsupportedLinkTypes: [...result.stats.unsupportedLinkTypes] }
    return { lines: events.map((e) => toJsonLine(e, { raw: true })), result: { ...result, stats }, error: null }
  } catch (err) {
    const e = err as Error & { code?: string }
    return { lines: events.map((x) => toJsonLine(x, { raw: true })), result: null, error: `${e.name} ${e.code ?? ''} ${e.message}` }
  }
}

const chat: Array<[boolean, string]> = [
  [true, 'VER 1 MSNP8 CVR0\r\n'], [false, 'VER 1 MSNP8\r\n'],
  [true, 'USR 2 TWN I alice@example.com\r\n'], [false, 'XFR 2 NS 203.0.113.9:1863 0 203.0.113.5:1863\r\n'],
  [true, 'MSG 3 N 67\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob!\r\n'],
  [true, 'OUT\r\n'],
]

test('a capture file gives the same events and result whether a reader thread reads it or not', async () => {
  const { dir, remove } = tempDir()
  try {
    const recs = frames(conversation(chat, { mss: 7 }), { ip: '192.0.2.10', port: 3331 }, { ip: '203.0.113.5', port: 1863 })
    const sample = pcapFile(recs)
    const files: Record<string, Buffer> = {
      'sample.pcap': sample,
      'big-endian.pcap': pcapFile(recs, { bigEndian: true }),
      'nanosecond.pcap': pcapFile(recs, { nanosecond: true }),
      'sample.pcapng': pcapngFile([{ linkType: 1 }, { linkType: 147 }], [...recs.map((r) => ({ iface: 0, tsUs: r.tsUs, data: r.data })), { iface: 1, tsUs: 3e15, data: Buffer.from('x') }]),
      'sample.pcap.gz': gzipSync(sample),
      'truncated.pcap': sample.subarray(0, sample.length - 30),
      'header-only.pcap': sample.subarray(0, 20),
      'not-a-capture.pcap': Buffer.from('GIF89a, not a capture at all'),
      'empty.pcap': Buffer.alloc(0),
      'bad-link.pcap': pcapFile(recs, { linkType: 147 }),
    }
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes)
    const alone = await outcome(path.join(dir, 'sample.pcap'), { readerThread: false })
    writeFileSync(path.join(dir, 'saved.jsonl'), alone.lines.join('\n') + '\n')
    const paths = readdirSync(dir).map((f) => path.join(dir, f))
    for (const dirName of [path.join(repoRoot, 'captures'), path.join(sharedDir, 'captures')]) {
      if (existsSync(dirName)) for (const f of readdirSync(dirName)) if (/\.(pcap|pcapng|cap)(\.gz)?$/.test(f)) paths.push(path.join(dirName, f))
    }
    let compared = 0
    let threaded = 0
    for (const file of paths) {
      const want = await outcome(file, { readerThread: false })
      // a batch of 512 bytes: many batches per file, and the reader waits for acknowledgements
      for (const chunkSize of [512, 64 * 1024]) {
        const got = await outcome(file, { readerThread: true, chunkSize })
        assert.deepEqual(got.lines, want.lines, `${file} (${chunkSize}-byte batches)`)
        assert.equal(got.error, want.error, file)
        if (want.result !== null && want.result.format !== 'jsonl') {
          assert.equal(got.result?.reader, 'thread', file)
          assert.deepEqual({ ...got.result, reader: 'inline' }, want.result, file)
          threaded++
        } else assert.deepEqual(got.result, want.result, file)
        compared++
      }
    }
    assert.ok(compared >= 2 * 11)
    assert.ok(threaded >= 2 * 8, `${threaded} threaded imports`)
    assert.ok(alone.lines.some((l) => l.includes('"verb":"MSG"')))
  } finally {
    remove()
  }
})

test('a stop midway ends the threaded import cleanly: what was read is finished and emitted', async () => {
  const file = path.join(repoRoot, 'captures', 'msnp-gateway.pcap')
  const whole = await outcome(file, { readerThread: false })
  const stop = new AbortController()
  const events: ScopeEvent[] = []
  const result = await importCapture(file, (e) => { events.push(e); if (events.length === 5) stop.abort() }, { readerThread: true, chunkSize: 512, signal: stop.signal })
  assert.ok(events.length >= 5 && events.length < whole.lines.length, `${events.length} of ${whole.lines.length}`)
  assert.equal(result.events, events.length)
  assert.equal(result.reader, 'thread')
  // every connection that was opened is closed
  const opened = new Set(events.filter((e) => e.kind === 'session-open').map((e) => e.conn))
  const closed = new Set(events.filter((e) => e.kind === 'session-close').map((e) => e.conn))
  assert.deepEqual([...closed].sort(), [...opened].sort())
  // and the events before the stop are the first events of the whole capture
  const prefix = whole.lines.slice(0, 5)
  assert.deepEqual(events.slice(0, 5).map((e) => toJsonLine(e, { raw: true })), prefix)
  assert.ok(readFileSync(file).length > 512)
})
