/**
 * Reading a capture's records: opening a file or stream, recognising the format (gzip first),
 * and the record readers (pcap-parser for classic microsecond pcap, our own readers for
 * nanosecond pcap and pcapng). Records go to any RecordSink: the capture pipeline itself, or the
 * packer of the reader thread (capture-reader-worker.ts), which does this part of an import on a
 * core of its own. Files that cannot be read at all are MsnscopeErrors; damage after the first
 * records is a ReadIssue.
 */
import { EventEmitter } from 'node:events'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import pcapParser from 'pcap-parser'
import { MsnscopeError } from '../errors.js'
import { isSupportedLinkType, linkTypeName, SUPPORTED_LINK_TYPES } from '../pcap/link.js'
import { MAX_RECORD_LENGTH, parsePcapHeader, PcapReader, sniffFormat, type CaptureRecord, type ReadIssue } from '../pcap/pcap-file.js'
import { PcapngReader } from '../pcap/pcapng.js'

/** A file path, or a stream of capture bytes (standard input). */
export type CaptureSource = string | NodeJS.ReadableStream

/** Where records go. */
export interface RecordSink {
  /** one record; the object may be reused for the next one, its data may be kept */
  record(rec: CaptureRecord): void
}

/** A capture opened and recognised. */
export interface OpenedCapture {
  format: 'pcap' | 'pcapng' | 'jsonl'
  gzip: boolean
  /** at least 24 bytes (unless the input is shorter), and whether more follow */
  first: { head: Buffer; rest: boolean }
  /** the rest of the input (decompressed) */
  input: AsyncIterator<Buffer>
  /** size of the file when known */
  total: number | null
  /** bytes read from the source so far (before decompression) */
  counter: { bytes: number }
}

/** Open a capture and tell its format, or throw a one-line MsnscopeError. */
export async function openCapture(source: CaptureSource, name: string, chunkSize: number): Promise<OpenedCapture> {
  const { chunks, total, counter } = await openSource(source, name, chunkSize)
  let input: AsyncIterator<Buffer> = chunks[Symbol.asyncIterator]()
  let first = await firstBytes(input, name)
  if (first.head.length === 0) throw new MsnscopeError('EFORMAT', `${name} is empty`)
  let sniff = sniffFormat(first.head)
  let gzip = false
  if (sniff?.format === 'gzip') {
    gzip = true
    input = gunzip(first.head, first.rest ? input : null)[Symbol.asyncIterator]()
    first = await firstBytes(input, name, true)
    if (first.head.length === 0) throw new MsnscopeError('EFORMAT', `${name} holds no data once decompressed`)
    sniff = sniffFormat(first.head)
  }
  if (sniff === null || sniff.format === 'unknown' || sniff.format === 'gzip') {
    throw new MsnscopeError('EFORMAT', `${name} is not a pcap, pcapng or msnscope JSONL file (it starts with ${describeStart(first.head)})`)
  }
  return { format: sniff.format, gzip, first, input, total, counter }
}

export interface Reader {
  push(chunk: Buffer): void
  /** the input ended; returns damage found, if any */
  end(): ReadIssue | null
  records(): number
}

export interface ReadOptions {
  /** bytes of the source read so far, and its size when known */
  onProgress?: (read: number, total: number | null) => void
  /** stop reading */
  signal?: AbortSignal
}

/** Feed every chunk to the reader, yielding after each; returns the damage it found, or a read error after the start. */
export async function* readAll(reader: Reader, opened: OpenedCapture, options: ReadOptions): AsyncGenerator<void, ReadIssue | null> {
  const { first, input, counter, total } = opened
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

/** The reader of a pcap or pcapng capture; `seen.linkTypes` follows the interfaces it finds. */
export function recordReader(opened: OpenedCapture, sink: RecordSink, seen: { linkTypes: number[] }, name: string): Reader {
  return opened.format === 'pcapng' ? pcapngReader(sink, seen) : classicReader(sink, seen, opened.first.head, name)
}

/** Classic pcap: pcap-parser for microsecond files, our reader for nanosecond ones. */
function classicReader(sink: RecordSink, seen: { linkTypes: number[] }, head: Buffer, name: string): Reader {
  const header = parsePcapHeader(head)
  if (typeof header === 'string') throw new MsnscopeError('EFORMAT', `${name}: ${header}`)
  checkLinkType(header.linkType, name)
  seen.linkTypes = [header.linkType]
  if (header.nanosecond) {
    const r = new PcapReader()
    return {
      push: (c) => { for (const rec of r.push(c)) sink.record(rec) },
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
    sink.record(rec)
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

function pcapngReader(sink: RecordSink, seen: { linkTypes: number[] }): Reader {
  const r = new PcapngReader()
  return {
    push: (c) => {
      for (const rec of r.push(c)) sink.record(rec)
      seen.linkTypes = [...r.linkTypes]
    },
    end: () => r.end(),
    records: () => r.records,
  }
}

export function checkLinkType(linkType: number, name: string): void {
  if (isSupportedLinkType(linkType)) return
  const known = [...new Set(SUPPORTED_LINK_TYPES.map(linkTypeName))].join(', ')
  throw new MsnscopeError('ELINKTYPE', `${name}: link type ${linkType} (${linkTypeName(linkType)}) is not supported; msnscope reads ${known}`)
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
