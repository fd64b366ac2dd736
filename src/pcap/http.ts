/**
 * HTTP/1.x message framing for one direction of a connection: bytes in, heads and body pieces
 * out. Content-Length, chunked transfer coding, bodies that run to the end of the connection,
 * keep-alive and pipelining; responses to HEAD and 1xx/204/304 have no body. Pure and general:
 * capture import uses it for the MSN HTTP gateway and the live gateway can reuse it.
 *
 * It never throws on input. Bytes that cannot be a message are reported in a `skip` event and
 * the parser looks for the next start line; bytes lost in a capture (`gap`) inside a body of
 * known length are passed on as a body gap, elsewhere they end the message and resynchronise.
 */
import type { SliceableBuffer } from '../buffers.js'

// C: POST /gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com HTTP/1.1
// S: HTTP/1.1 200 OK

export type HttpKind = 'request' | 'response'

export interface HttpHead {
  kind: HttpKind
  /** request method ('' in a response) */
  method: string
  /** request target as sent: origin form (/path?q) or absolute form (http://host/path?q) */
  target: string
  version: string
  /** response status (0 in a request) */
  status: number
  reason: string
  /** header fields in order, names as sent */
  headers: Array<[string, string]>
  /** the header names in lower case, in the same order (for lookups) */
  names: string[]
  /** length of the head, start line through the empty line */
  length: number
}

export type HttpParserEvent =
  | { type: 'head'; head: HttpHead }
  | { type: 'body'; data: Buffer }
  /** body bytes missing from the stream (a capture lost them) */
  | { type: 'gap'; bytes: number }
  /** end of a message; `complete` is false when the stream ended or lost bytes before the body did */
  | { type: 'end'; bodyLength: number; complete: boolean }
  | { type: 'skip'; bytes: number; reason: string }

export interface HttpParserOptions {
  /** longest head accepted (default 64 KiB) */
  maxHead?: number
}

/** First value of a header field, by case-insensitive name. */
export function headerValue(head: HttpHead, name: string): string | undefined {
  const i = head.names.indexOf(name.toLowerCase())
  return i < 0 ? undefined : head.headers[i]![1]
}

const REQUEST_LINE = /^([A-Za-z][A-Za-z-]{1,19}) (\S+) (HTTP\/1\.\d)$/
const STATUS_LINE = /^(HTTP\/1\.\d) (\d{3})(?: (.*))?$/

type Mode =
  | { m: 'head' }
  | { m: 'length'; left: number }
  | { m: 'chunk-size' }
  | { m: 'chunk-data'; left: number }
  | { m: 'chunk-crlf' }
  | { m: 'trailers' }
  | { m: 'close' }

/** s.slice(from, to).trim(), without the trim when there is nothing to trim (the usual case). */
function trimmed(s: string, from: number, to: number): string {
  const a = s.charCodeAt(from), z = s.charCodeAt(to - 1)
  const t = s.slice(from, to)
  return a <= 0x20 || z <= 0x20 || a === 0xa0 || z === 0xa0 || a > 0x7f || z > 0x7f ? t.trim() : t
}

/** Header names in lower case; the few a gateway session repeats come from a table. */
const LOWER_NAMES = new Map<string, string>()
function lowerName(name: string): string {
  const hit = LOWER_NAMES.get(name)
  if (hit !== undefined) return hit
  const lower = name.toLowerCase()
  if (LOWER_NAMES.size < 256) LOWER_NAMES.set(name, lower)
  return lower
}

const EMPTY: Buffer = Buffer.alloc(0)
const CRLFCRLF = Buffer.from('\r\n\r\n')
const LFLF = Buffer.from('\n\n')

export class HttpParser {
  readonly maxHead: number
  #buf: Buffer = EMPTY
  #mode: Mode = { m: 'head' }
  #bodyLength = 0
  #incomplete = false
  /** looking for the next start line after damage */
  #resync = false
  /** methods of the requests still waiting for a response (responses only) */
  readonly #methods: string[] = []

  constructor(readonly kind: HttpKind, options: HttpParserOptions = {}) {
    this.maxHead = options.maxHead ?? 64 * 1024
  }

  /** Responses only: the method of the next request sent, so a HEAD response is read without a body. */
  expectResponseTo(method: string): void {
    this.#methods.push(method.toUpperCase())
    if (this.#methods.length > 1024) this.#methods.shift()
  }

  /** True while the parser is between messages (nothing of a message is pending). */
  get idle(): boolean { return this.#mode.m === 'head' && this.#buf.length === 0 }

  push(chunk: Buffer): HttpParserEvent[] {
    const out: HttpParserEvent[] = []
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    this.#run(out)
    // a head still incomplete is copied, so that it does not keep its whole read buffer alive
    if (this.#buf.length > 0 && 2 * this.#buf.length < this.#buf.buffer.byteLength) this.#buf = Buffer.from(this.#buf)
    return out
  }

  gap(n: number): HttpParserEvent[] {
    const out: HttpParserEvent[] = []
    const mode = this.#mode
    if (mode.m === 'close') { out.push({ type: 'gap', bytes: n }); this.#incomplete = true; return out }
    if ((mode.m === 'length' || mode.m === 'chunk-data') && this.#buf.length === 0 && n <= mode.left) {
      mode.left -= n
      this.#bodyLength += n
      this.#incomplete = true
      out.push({ type: 'gap', bytes: n })
      if (mode.m === 'length' && mode.left === 0) this.#finish(out)
      else if (mode.m === 'chunk-data' && mode.left === 0) this.#mode = { m: 'chunk-crlf' }
      return out
    }
    if (mode.m !== 'head') {
      this.#incomplete = true
      this.#finish(out)
    }
    if (this.#buf.length > 0) out.push({ type: 'skip', bytes: this.#buf.length, reason: 'incomplete head before a gap' })
    this.#buf = EMPTY
    this.#resync = true
    return out
  }

  end(): HttpParserEvent[] {
    const out: HttpParserEvent[] = []
    if (this.#mode.m === 'close') this.#finish(out)
    else if (this.#mode.m !== 'head') { this.#incomplete = true; this.#finish(out) }
    if (this.#buf.length > 0) out.push({ type: 'skip', bytes: this.#buf.length, reason: 'stream ended inside a message head' })
    this.#buf = EMPTY
    return out
  }

  #finish(out: HttpParserEvent[]): void {
    out.push({ type: 'end', bodyLength: this.#bodyLength, complete: !this.#incomplete })
    this.#mode = { m: 'head' }
    this.#bodyLength = 0
    this.#incomplete = false
  }

  #body(out: HttpParserEvent[], n: number): void {
    if (n === 0) return
    out.push({ type: 'body', data: this.#buf.subarray(0, n) })
    this.#bodyLength += n
    this.#buf = this.#buf.subarray(n)
  }

  #run(out: HttpParserEvent[]): void {
    for (;;) {
      const buf = this.#buf
      if (buf.length === 0) return
      const mode = this.#mode
      switch (mode.m) {
        case 'head':
          if (!this.#head(out)) return
          break
        case 'length': {
          const n = Math.min(mode.left, buf.length)
          this.#body(out, n)
          mode.left -= n
          if (mode.left === 0) this.#finish(out)
          break
        }
        case 'close':
          this.#body(out, buf.length)
          return
        case 'chunk-size': {
          const lf = buf.indexOf(0x0a)
          if (lf < 0) {
            if (buf.length > 1024) this.#damaged(out, 'chunk size line too long')
            return
          }
          const line = buf.toString('latin1', 0, lf).trim()
          const size = parseInt(line.split(';')[0]!, 16)
          if (!/^[0-9a-fA-F]+/.test(line) || !Number.isFinite(size)) { this.#damaged(out, 'bad chunk size'); break }
          this.#buf = buf.subarray(lf + 1)
          this.#mode = size === 0 ? { m: 'trailers' } : { m: 'chunk-data', left: size }
          break
        }
        case 'chunk-data': {
          const n = Math.min(mode.left, buf.length)
          this.#body(out, n)
          mode.left -= n
          if (mode.left === 0) this.#mode = { m: 'chunk-crlf' }
          break
        }
        case 'chunk-crlf': {
          if (buf.readUInt8(0) === 0x0d) {
            if (buf.length < 2) return
            this.#buf = buf.subarray(buf.readUInt8(1) === 0x0a ? 2 : 1)
          } else if (buf.readUInt8(0) === 0x0a) this.#buf = buf.subarray(1)
          this.#mode = { m: 'chunk-size' }
          break
        }
        case 'trailers': {
          const lf = buf.indexOf(0x0a)
          if (lf < 0) return
          const empty = lf === 0 || (lf === 1 && buf.readUInt8(0) === 0x0d)
          this.#buf = buf.subarray(lf + 1)
          if (empty) this.#finish(out)
          break
        }
      }
    }
  }

  /** The body ended badly; report and look for the next message. */
  #damaged(out: HttpParserEvent[], reason: string): void {
    this.#incomplete = true
    this.#finish(out)
    out.push({ type: 'skip', bytes: this.#buf.length, reason })
    this.#buf = EMPTY
    this.#resync = true
  }

  /** Parse a head if a whole one is buffered; false to wait for more bytes. */
  #head(out: HttpParserEvent[]): boolean {
    if (this.#resync || !this.#startsLikeMessage(this.#buf)) {
      const at = this.#findStart(this.#buf)
      if (at < 0) {
        // keep a possible partial start line at the end, skip the rest
        const keep = 2048
        const lf = this.#buf.lastIndexOf(0x0a)
        const from = lf >= 0 && this.#buf.length - lf - 1 < keep ? lf + 1 : this.#buf.length
        if (from > 0) out.push({ type: 'skip', bytes: from, reason: 'not an HTTP message' })
        this.#buf = this.#buf.subarray(from)
        return false
      }
      if (at > 0) out.push({ type: 'skip', bytes: at, reason: 'not an HTTP message' })
      this.#buf = this.#buf.subarray(at)
      this.#resync = false
    }
    const buf = this.#buf
    // a head whose start line ends in a bare line feed (rare) ends at an empty line of either kind
    const lf = buf.indexOf(0x0a)
    const bareLf = lf === 0 || (lf > 0 && buf.readUInt8(lf - 1) !== 0x0d)
    let end = buf.indexOf(CRLFCRLF)
    let sep = 4
    if (bareLf) {
      const bare = buf.subarray(0, end < 0 ? buf.length : end).indexOf(LFLF)
      if (bare >= 0) { end = bare; sep = 2 }
    }
    if (end < 0) {
      if (buf.length > this.maxHead) {
        out.push({ type: 'skip', bytes: buf.length, reason: `message head longer than ${this.maxHead} bytes` })
        this.#buf = EMPTY
        this.#resync = true
      }
      return false
    }
    const head = this.#parseHead((buf as SliceableBuffer).latin1Slice(0, end), end + sep)
    if (head === null) {
      out.push({ type: 'skip', bytes: end + sep, reason: 'unreadable start line' })
      this.#buf = buf.subarray(end + sep)
      return true
    }
    this.#buf = buf.subarray(end + sep)
    out.push({ type: 'head', head })
    this.#startBody(out, head)
    return true
  }

  /** The head's text (lines end in LF, each may still end in CR), read line by line. */
  #parseHead(text: string, length: number): HttpHead | null {
    let nl = text.indexOf('\n')
    const first = nl < 0 ? text : text.slice(0, nl)
    const start = first.endsWith('\r') ? first.slice(0, -1) : first
    const headers: Array<[string, string]> = []
    const names: string[] = []
    while (nl >= 0) {
      const from = nl + 1
      nl = text.indexOf('\n', from)
      const line = nl < 0 ? text.slice(from) : text.slice(from, nl)
      const c = line.charCodeAt(0)
      if ((c === 0x20 || c === 0x09) && headers.length > 0) {
        headers[headers.length - 1]![1] += ' ' + line.trim()
        continue
      }
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const name = trimmed(line, 0, colon)
      headers.push([name, trimmed(line, colon + 1, line.length)])
      names.push(lowerName(name))
    }
    if (this.kind === 'request') {
      const m = REQUEST_LINE.exec(start)
      if (m === null) return null
      return { kind: 'request', method: m[1]!.toUpperCase(), target: m[2]!, version: m[3]!, status: 0, reason: '', headers, names, length }
    }
    const m = STATUS_LINE.exec(start)
    if (m === null) return null
    return { kind: 'response', method: '', target: '', version: m[1]!, status: Number(m[2]), reason: m[3] ?? '', headers, names, length }
  }

  #startBody(out: HttpParserEvent[], head: HttpHead): void {
    const te = headerValue(head, 'transfer-encoding')
    const chunked = te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)
    const cl = headerValue(head, 'content-length')
    const length = cl !== undefined && /^\d{1,15}$/.test(cl) ? Number(cl) : -1
    if (head.kind === 'response') {
      if (head.status >= 100 && head.status < 200) { this.#finish(out); return } // interim: the real answer follows
      const method = this.#methods.shift()
      if (method === 'HEAD' || head.status === 204 || head.status === 304) { this.#finish(out); return }
      if (chunked) { this.#mode = { m: 'chunk-size' }; return }
      if (length >= 0) { this.#mode = { m: 'length', left: length }; if (length === 0) this.#finish(out); return }
      this.#mode = { m: 'close' }
      return
    }
    if (chunked) { this.#mode = { m: 'chunk-size' }; return }
    if (length > 0) { this.#mode = { m: 'length', left: length }; return }
    this.#finish(out)
  }

  #startsLikeMessage(buf: Buffer): boolean {
    const n = Math.min(buf.length, 8)
    if (this.kind === 'response') return 'HTTP/1.'.startsWith(buf.toString('latin1', 0, Math.min(n, 7)))
    for (let i = 0; i < n; i++) {
      const c = buf.readUInt8(i)
      if (c === 0x20) return i >= 2
      if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 0x2d)) return false
    }
    return true
  }

  /** Offset of the next line that starts a message of this parser's kind, or -1. */
  #findStart(buf: Buffer): number {
    let at = 0
    while (at < buf.length) {
      const lf = buf.indexOf(0x0a, at)
      const lineEnd = lf < 0 ? buf.length : lf
      const line = buf.toString('latin1', at, lineEnd).replace(/\r$/, '')
      if (lf >= 0 && (this.kind === 'request' ? REQUEST_LINE.test(line) : STATUS_LINE.test(line))) return at
      if (lf < 0) return -1
      at = lf + 1
    }
    return -1
  }
}
