/**
 * Capture import: reads a pcap, pcapng or saved JSONL file (optionally gzip-compressed), from a
 * path or a stream such as standard input, and turns it into the same events the live proxy
 * makes. Decoding runs as bytes arrive, so `tcpdump -w - | msnscope read -` shows events while
 * the capture is still being written. Classic microsecond pcap goes through pcap-parser;
 * nanosecond pcap and pcapng through readers of our own (src/pcap/, capture-read.ts). A file is
 * read by a thread of its own (capture-thread.ts) while this one reassembles and decodes.
 *
 * What it promises: a file it cannot read at all is a MsnscopeError with a one-line message;
 * damage after the first packets (a truncated file, corrupt records, corrupt gzip data) becomes a
 * warning in the result, and everything before it is still decoded and emitted.
 */
import { MsnscopeError } from '../errors.js'
import type { EventSink, ScopeEvent } from '../events.js'
import { linkTypeName } from '../pcap/link.js'
import type { ReadIssue } from '../pcap/pcap-file.js'
import { CapturePipeline, type PipelineOptions, type PipelineStats } from './capture-pipeline.js'
import { checkLinkType, openCapture, readAll, recordReader, type CaptureSource, type Reader } from './capture-read.js'
import { ReaderThread, unpackBatch, type ReaderMessage } from './capture-thread.js'
import { JsonlLoader } from './jsonl-import.js'

export type { CaptureSource } from './capture-read.js'

export interface ImportOptions extends PipelineOptions {
  /** how the source is named in messages (default: the path, or "standard input") */
  name?: string
  /** bytes of the source read so far, and its size when known */
  onProgress?: (read: number, total: number | null) => void
  /** awaited after each chunk, so a slow consumer (a pipe) can hold the reading back */
  drain?: () => Promise<void> | void
  /** stop reading; what was read is still finished and emitted */
  signal?: AbortSignal
  /**
   * bytes per read from a file (default 64 KiB). Decoded views point into these reads, so a
   * connection waiting for the rest of a command pins at most one of them.
   */
  chunkSize?: number
  /**
   * read a file (not a stream) in a thread of its own, so that reading and unpacking records
   * runs beside reassembly and decoding (default true; the events are the same either way)
   */
  readerThread?: boolean
}

export interface ImportResult {
  name: string
  format: 'pcap' | 'pcapng' | 'jsonl'
  gzip: boolean
  /** link types of the capture's interfaces */
  linkTypes: number[]
  /** records (packets), or JSON lines */
  records: number
  events: number
  bytesRead: number
  /** damage found after the first records, and packets skipped */
  warnings: string[]
  /** null for JSONL */
  stats: PipelineStats | null
  /** the records were read by a thread of their own ('thread') or by the importing one */
  reader: 'thread' | 'inline'
}

/** Read a whole capture into `sink`. */
export async function importCapture(source: CaptureSource, sink: EventSink, options: ImportOptions = {}): Promise<ImportResult> {
  const it = runImport(source, sink, options)
  for (;;) {
    const step = await it.next()
    if (step.done === true) return step.value
    await options.drain?.()
  }
}

/**
 * The same as a stream of event batches, one per chunk read: what a TUI consumes while a large
 * file (or standard input) is still being read. The generator's return value is the result.
 */
export async function* captureEvents(source: CaptureSource, options: ImportOptions = {}): AsyncGenerator<ScopeEvent[], ImportResult> {
  let batch: ScopeEvent[] = []
  const it = runImport(source, (e) => { batch.push(e) }, options)
  for (;;) {
    const step = await it.next()
    if (batch.length > 0) { const out = batch; batch = []; yield out }
    if (step.done === true) return step.value
  }
}

/** Yields after every chunk (or batch of records); returns the result. */
async function* runImport(source: CaptureSource, sink: EventSink, options: ImportOptions): AsyncGenerator<void, ImportResult> {
  if (typeof source === 'string' && options.readerThread !== false) {
    const result = yield* threadedImport(source, sink, options)
    if (result !== null) return result
  }
  const name = options.name ?? (typeof source === 'string' ? source : 'standard input')
  const opened = await openCapture(source, name, options.chunkSize ?? DEFAULT_CHUNK)
  const result = newResult(name)
  result.format = opened.format
  result.gzip = opened.gzip
  const counted: EventSink = (e) => { result.events++; sink(e) }
  let reader: Reader
  if (opened.format === 'jsonl') {
    const loader = new JsonlLoader(counted)
    reader = { push: (c) => loader.push(c), end: () => { loader.end(); return null }, records: () => loader.events }
    const issue = yield* readAll(reader, opened, options)
    result.warnings.push(...loader.warnings)
    if (loader.events === 0) throw new MsnscopeError('EFORMAT', `${name} holds no msnscope events${loader.warnings[0] !== undefined ? ` (${loader.warnings[0]})` : ''}`)
    if (issue !== null) result.warnings.push(issue.message)
  } else {
    const pipe = new CapturePipeline(counted, options)
    reader = recordReader(opened, pipe, result, name)
    const issue = yield* readAll(reader, opened, options)
    finishPipeline(pipe, result, reader.records(), issue)
  }
  result.records = reader.records()
  result.bytesRead = opened.counter.bytes
  return result
}

const DEFAULT_CHUNK = 64 * 1024
/** Records per batch from the reader thread, in bytes: fewer, larger batches cost fewer wake-ups. */
const THREAD_BATCH = 256 * 1024
/** Batches the reader thread may have sent ahead of the one being decoded. */
const BATCHES_IN_FLIGHT = 8

function newResult(name: string): ImportResult {
  return { name, format: 'pcap', gzip: false, linkTypes: [], records: 0, events: 0, bytesRead: 0, warnings: [], stats: null, reader: 'inline' }
}

/** The capture ended: close what is open, then report damage and skipped packets. */
function finishPipeline(pipe: CapturePipeline, result: ImportResult, records: number, issue: ReadIssue | null): void {
  pipe.finish()
  result.stats = pipe.stats
  if (records === 0 && issue !== null) throw new MsnscopeError('EFORMAT', `${result.name}: ${issue.message}`)
  if (issue !== null) result.warnings.push(`${issue.message} (at byte ${issue.offset}); everything before it was read`)
  unsupportedWarnings(pipe.stats, result, result.name)
}

/**
 * A capture file read by the reader thread and decoded here. Null when it is not for the thread
 * (a saved JSONL file) or the thread could not start: the caller then reads it itself.
 */
async function* threadedImport(source: string, sink: EventSink, options: ImportOptions): AsyncGenerator<void, ImportResult | null> {
  const name = options.name ?? source
  let thread: ReaderThread
  try {
    thread = new ReaderThread({ source, name, readBytes: options.chunkSize ?? DEFAULT_CHUNK, batchBytes: options.chunkSize ?? THREAD_BATCH, maxInFlight: BATCHES_IN_FLIGHT })
  } catch {
    return null
  }
  const result = newResult(name)
  result.reader = 'thread'
  const counted: EventSink = (e) => { result.events++; sink(e) }
  const pipe = new CapturePipeline(counted, options)
  let started = false
  let records = 0
  try {
    for (;;) {
      if (options.signal?.aborted === true) {
        // what was read is still finished and emitted
        finishPipeline(pipe, result, records, null)
        result.records = records
        return result
      }
      let m: ReaderMessage
      try {
        m = await thread.next()
      } catch (err) {
        if (!started) return null
        throw err
      }
      started = true
      switch (m.type) {
        case 'jsonl':
          return null
        case 'error':
          throw new MsnscopeError(m.code, m.message)
        case 'failed':
          throw new Error(`the capture reader failed: ${m.message}`)
        case 'batch':
          unpackBatch(m.buf, m.used, m.count, pipe)
          thread.ack()
          records += m.count
          result.bytesRead = m.bytesRead
          options.onProgress?.(m.bytesRead, m.total)
          yield
          break
        case 'end':
          result.format = m.format
          result.gzip = m.gzip
          result.linkTypes = m.linkTypes
          finishPipeline(pipe, result, m.records, m.issue)
          result.records = m.records
          result.bytesRead = m.bytesRead
          return result
      }
    }
  } finally {
    await thread.stop()
  }
}

/** pcapng may mix interfaces: packets of unreadable link types are skipped with a warning, or all of them is an error. */
function unsupportedWarnings(stats: PipelineStats, result: ImportResult, name: string): void {
  let skipped = 0
  for (const [lt, n] of stats.unsupportedLinkTypes) {
    skipped += n
    result.warnings.push(`${n} packets of link type ${lt} (${linkTypeName(lt)}) skipped: not supported`)
  }
  if (skipped > 0 && skipped === stats.packets) {
    const lt = [...stats.unsupportedLinkTypes.keys()][0]!
    checkLinkType(lt, name)
  }
}

