/**
 * Capture import: reads a pcap, pcapng or saved JSONL file (optionally gzip-compressed), from a
 * path or a stream such as standard input, and turns it into the same events the live proxy
 * makes. Decoding runs as bytes arrive, so `tcpdump -w - | msnscope read -` shows events while
 * the capture is still being written. Classic microsecond pcap goes through pcap-parser;
 * nanosecond pcap and pcapng through readers of our own (src/pcap/).
 *
 * What it promises: a file it cannot read at all is a MsnscopeError with a one-line message;
 * damage after the first packets (a truncated file, corrupt records, corrupt gzip data) becomes a
 * warning in the result, and everything before it is still decoded and emitted.
 */
import { EventEmitter } from 'node:events'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import pcapParser from 'pcap-parser'
import { MsnscopeError } from '../errors.js'
import type { EventSink, ScopeEvent } from '../events.js'
import { isSupportedLinkType, linkTypeName, SUPPORTED_LINK_TYPES } from '../pcap/link.js'
import { MAX_RECORD_LENGTH, parsePcapHeader, PcapReader, sniffFormat, type CaptureRecord, type ReadIssue } from '../pcap/pcap-file.js'
import { PcapngReader } from '../pcap/pcapng.js'
import { CapturePipeline, type PipelineOptions, type PipelineStats } from './capture-pipeline.js'
import { JsonlLoader } from './jsonl-import.js'

/** A file path, or a stream of capture bytes (standard input). */
export type CaptureSource = string | NodeJS.ReadableStream

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

interface Reader {
  push(chunk: Buffer): void
  /** the input ended; returns damage found, if any */
  end(): ReadIssue | null
  records(): number
}

/** Yields after every chunk; returns the result. */
async function* runImport(source: CaptureSource, sink: EventSink, options: ImportOptions): AsyncGenerator<void, ImportResult> {
  const name = options.name ?? (typeof source === 'string' ? source : 'standard input')
  const { chunks, total, counter } = await openSource(source, name, options.chunkSize ?? 64 * 1024)
  const result: ImportResult = { name, format: 'pcap', gzip: false, linkTypes: [], records: 0, events: 0, bytesRead: 0, warnings: [], stats: null }
  const counted: EventSink = (e) => { result.events++; sink(e) }
  let input: AsyncIterator<Buffer> = chunks[Symbol.asyncIterator]()
  let first = await firstBytes(input, name)
  if (first.head.length === 0) throw new MsnscopeError('EFORMAT', `${name} is empty`)
  let sniff = sniffFormat(first.head)
  if (sniff?.format === 'gzip') {
    result.gzip = true
    input = gunzip(first.head, first.rest ? input : null)[Symbol.asyncIterator]()
    first = await firstBytes(input, name, true)
    if (first.head.length === 0) throw new MsnscopeError('EFORMAT', `${name} holds no data once decompressed`)
    sniff = sniffFormat(first.head)
  }
  if (sniff === null || sniff.format === 'unknown' || sniff.format === 'gzip') {
    throw new MsnscopeError('EFORMAT', `${name} is not a pcap, pcapng or msnscope JSONL file (it starts with ${describeStart(first.head)})`)
  }
  result.format = sniff.format
  let reader: Reader
  if (sniff.format === 'jsonl') {
    const loader = new JsonlLoader(counted)
    reader = { push: (c) => loader.push(c), end: () => { loader.end(); return null }, records: () => loader.events }
    const issue = yield* readAll(reader, first, input, counter, total, options)
    result.warnings.push(...loader.warnings)
    if (loader.events === 0) throw new MsnscopeError('EFORMAT', `${name} holds no msnscope events${loader.warnings[0] !== undefined ? ` (${loader.warnings[0]})` : ''}`)
    if (issue !== null) result.warnings.push(issue.message)
  } else {
    const pipe = new CapturePipeline(counted, options)
    reader = sniff.format === 'pcapng' ? pcapngReader(pipe, result) : classicReader(pipe, result, first.head, name)
    const issue = yield* readAll(reader, first, input, counter, total, options)
    pipe.finish()
    result.stats = pipe.stats
    if (reader.records() === 0 && issue !== null) throw new MsnscopeError('EFORMAT', `${name}: ${issue.message}`)
    if (issue !== null) result.warnings.push(`${issue.message} (at byte ${issue.offset}); everything before it was read`)
    unsupportedWarnings(pipe.stats, result, name)
  }
  result.records = reader.records()
  result.bytesRead = counter.bytes
  return result
}

/** Feed every chunk to the reader; returns the damage it found, or a read error after the start. */
async function* readAll(reader: Reader, first: { head: Buffer; rest: boolean }, input: AsyncIterator<Buffer>, counter: { bytes: number }, total: number | null, options: ImportOptions): AsyncGenerator<void, ReadIssue | null> {
  let offset = 0
  reader.push(first.head)
  offset += first.head.length
  options.onProgress?.(counter.bytes, total)
  yield
  let readError: string | null = null
  if (first.rest) {
    for (;;) {
      if (options.signal?.aborted === true) { await input.return?.(); break }
      let step: IteratorResult<Buffer>
      try {
        step = await input.next()
      } catch (err) {
        readError = err instanceof Error ? err.message : String(err)
        break
      }
      if (step.done === true) break
      reader.push(step.value)
      offset += step.value.length
      options.onProgress?.(counter.bytes, total)
      yield
    }
  }
  const issue = reader.end()
  if (readError !== null) return { offset, message: `reading stopped: ${readError}` }
  return issue
}

/** Classic pcap: pcap-parser for microsecond files, our reader for nanosecond ones. */
function classicReader(pipe: CapturePipeline, result: ImportResult, head: Buffer, name: string): Reader {
  const header = parsePcapHeader(head)
  if (typeof header === 'string') throw new MsnscopeError('EFORMAT', `${name}: ${header}`)
  checkLinkType(header.linkType, name)
  result.linkTypes = [header.linkType]
  if (header.nanosecond) {
    const r = new PcapReader()
    return {
      push: (c) => { for (const rec of r.push(c)) pipe.record(rec) },
      end: () => r.end(),
      records: () => r.records,
    }
  }
  // pcap-parser reads from an emitter; feeding it by hand keeps decoding in step with reading
  const feed = Object.assign(new EventEmitter(), { pause(): void {}, resume(): void {} })
  const parser = pcapParser.parse(feed)
  const linkType = header.linkType
  let fed = 0
  let used = 24
  let records = 0
  let issue: ReadIssue | null = null
  parser.on('packetHeader', (h) => {
    if (h.capturedLength > MAX_RECORD_LENGTH && issue === null) issue = { offset: used, message: `record ${records + 1} claims ${h.capturedLength} bytes: the file is damaged from here` }
  })
  // one record object, refilled for every packet (the pipeline keeps none of them)
  const rec: CaptureRecord = { linkType, tsUs: 0, data: head, origLength: 0 }
  parser.on('packet', (p) => {
    records++
    used += 16 + p.header.capturedLength
    rec.tsUs = p.header.timestampSeconds * 1e6 + p.header.timestampMicroseconds
    rec.data = p.data
    rec.origLength = p.header.originalLength
    pipe.record(rec)
  })
  parser.on('error', (err) => { if (issue === null) issue = { offset: used, message: err.message } })
  return {
    push: (c) => { if (issue === null) { fed += c.length; feed.emit('data', c) } },
    end: () => {
      if (issue !== null) return issue
      if (fed > used) {
        const rest = fed - used
        return { offset: used, message: rest < 16 ? `capture truncated inside the header of record ${records + 1} (${rest} of 16 bytes)` : `capture truncated: record ${records + 1} is incomplete (${rest - 16} bytes of it present)` }
      }
      return null
    },
    records: () => records,
  }
}

function pcapngReader(pipe: CapturePipeline, result: ImportResult): Reader {
  const r = new PcapngReader()
  return {
    push: (c) => {
      for (const rec of r.push(c)) pipe.record(rec)
      result.linkTypes = [...r.linkTypes]
    },
    end: () => r.end(),
    records: () => r.records,
  }
}

function checkLinkType(linkType: number, name: string): void {
  if (isSupportedLinkType(linkType)) return
  const known = [...new Set(SUPPORTED_LINK_TYPES.map(linkTypeName))].join(', ')
  throw new MsnscopeError('ELINKTYPE', `${name}: link type ${linkType} (${linkTypeName(linkType)}) is not supported; msnscope reads ${known}`)
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

async function openSource(source: CaptureSource, name: string, chunkSize: number): Promise<{ chunks: AsyncIterable<Buffer>; total: number | null; counter: { bytes: number } }> {
  const counter = { bytes: 0 }
  let stream: NodeJS.ReadableStream
  let total: number | null = null
  if (typeof source === 'string') {
    try {
      const st = await stat(source)
      if (st.isDirectory()) throw new MsnscopeError('EINPUT', `${name} is a directory`)
      total = st.isFile() ? st.size : null
    } catch (err) {
      if (err instanceof MsnscopeError) throw err
      throw new MsnscopeError('EINPUT', `cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
    }
    stream = createReadStream(source, { highWaterMark: chunkSize })
  } else {
    stream = source
  }
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      counter.bytes += b.length
      yield b
    }
  }
  return { chunks: counted(), total, counter }
}

/** At least 24 bytes (enough to tell the format), unless the input is shorter. */
async function firstBytes(input: AsyncIterator<Buffer>, name: string, decompressing = false): Promise<{ head: Buffer; rest: boolean }> {
  const parts: Buffer[] = []
  let n = 0
  try {
    while (n < 24) {
      const step = await input.next()
      if (step.done === true) return { head: Buffer.concat(parts), rest: false }
      parts.push(step.value)
      n += step.value.length
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new MsnscopeError(decompressing ? 'EFORMAT' : 'EINPUT', decompressing ? `${name}: gzip data is corrupt (${why})` : `cannot read ${name}: ${why}`, { cause: err })
  }
  return { head: Buffer.concat(parts), rest: true }
}

/** Decompress gzip on the fly: the bytes already read, then the rest of the input. */
function gunzip(head: Buffer, rest: AsyncIterator<Buffer> | null): AsyncIterable<Buffer> {
  async function* raw(): AsyncGenerator<Buffer> {
    yield head
    if (rest === null) return
    for (let step = await rest.next(); step.done !== true; step = await rest.next()) yield step.value
  }
  const gz = createGunzip()
  // errors of either stream surface when the decompressed data is read
  pipeline(Readable.from(raw()), gz, () => {})
  return gz
}

function describeStart(head: Buffer): string {
  const text = head.subarray(0, 16).toString('latin1')
  if (/^[\x20-\x7e]+$/.test(text)) return JSON.stringify(text)
  return `0x${head.subarray(0, 8).toString('hex')}`
}
