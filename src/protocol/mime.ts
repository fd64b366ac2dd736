/**
 * The MIME-like header blocks of MSG payloads (and of invitation bodies, MSNSLP messages and the
 * MSNP21 multi-part payloads): reading them fast for the decoder, and the exact inverse for
 * rewrite rules. `encodeMime(parseMime(x).headers, parseMime(x).body)` gives back `x` byte for
 * byte, whatever its line endings and spacing. Nothing here throws on wire bytes.
 */
import { isUtf8 } from 'node:buffer'
import { TextDecoder } from 'node:util'

/** How one header line was written, so that an unchanged header encodes to the same bytes. */
export interface HeaderWire {
  /** what separated name and value: usually ': ' ('' for a line without a colon) */
  sep: string
  /** the line ending: '\r\n', '\n', a bare '\r', or '' when the payload ended inside the line */
  eol: string
  /** the empty line closing the block, when this is the last header and it differs from `eol` */
  end?: string
  /** name and value were not valid UTF-8 and were read as latin1 */
  latin1?: true
}

/** One header: name and value as sent (value without the separator), plus its layout. */
export type MimeHeader = [name: string, value: string, wire?: HeaderWire]

export interface ParsedMime {
  headers: MimeHeader[]
  /** byte offset where the body starts (just after the empty line) */
  headerEnd: number
  body: Buffer
  /** the empty line that closed the header block as written ('' if there was none) */
  end: string
  error?: string
}

/** One header block read from a latin1 view of the bytes (so its offsets are byte offsets). */
export interface HeaderBlock {
  names: string[]
  values: string[]
  /** per header, as in HeaderWire; empty when the layout was not asked for */
  seps: string[]
  eols: string[]
  /** offset just after the closing empty line (or the end of input when there is none) */
  bodyStart: number
  /** the closing empty line as written, '' when the block never ended */
  end: string
  /** lines that had no colon */
  badLines: number
}

const CRLF = '\r\n'
const NO_LAYOUT: string[] = []
const COLON_SP = ': '
const HIGH = /[\x80-\xff]/
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/

/**
 * Read one header block from `s` (a latin1 view, so offsets are byte offsets) starting at `start`.
 * Lines may end in CRLF, LF or a bare CR (some third-party clients); folded continuation lines
 * (starting with space or tab) stay part of the previous value, line break included.
 */
export function scanHeaderBlock(s: string, start = 0, layout = true): HeaderBlock {
  const names: string[] = []
  const values: string[] = []
  // separators and line endings only matter for re-encoding; decoding skips them
  const seps: string[] = layout ? [] : NO_LAYOUT
  const eols: string[] = layout ? [] : NO_LAYOUT
  let lastEol = ''
  const len = s.length
  let pos = start
  let badLines = 0
  // a bare CR before the first LF means the sender ends its lines with CR alone
  const cr = s.indexOf('\r', pos)
  const lf0 = s.indexOf('\n', pos)
  const crMode = cr >= 0 && (lf0 < 0 || cr + 1 < lf0)
  for (;;) {
    if (pos >= len) return { names, values, seps, eols, bodyStart: len, end: '', badLines }
    let contentEnd: number, next: number, eol: string
    const brk = s.indexOf(crMode ? '\r' : '\n', pos)
    if (brk < 0) { contentEnd = len; next = len; eol = '' } else if (crMode) {
      contentEnd = brk; next = brk + 1; eol = '\r'
      if (s.charCodeAt(next) === 10) { next++; eol = CRLF }
    } else if (brk > pos && s.charCodeAt(brk - 1) === 13) { contentEnd = brk - 1; next = brk + 1; eol = CRLF } else { contentEnd = brk; next = brk + 1; eol = '\n' }
    if (contentEnd === pos) {
      if (eol === '') return { names, values, seps, eols, bodyStart: len, end: '', badLines }
      return { names, values, seps, eols, bodyStart: next, end: eol, badLines }
    }
    const c0 = s.charCodeAt(pos)
    const last = names.length - 1
    if ((c0 === 32 || c0 === 9) && last >= 0) {
      values[last] += lastEol + s.slice(pos, contentEnd)
      if (layout) eols[last] = eol
      lastEol = eol
      pos = next
      continue
    }
    const colon = s.indexOf(':', pos)
    if (colon < 0 || colon >= contentEnd) {
      names.push(s.slice(pos, contentEnd)); values.push(''); badLines++
      if (layout) seps.push('')
    } else {
      let v = colon + 1
      while (v < contentEnd && (s.charCodeAt(v) === 32 || s.charCodeAt(v) === 9)) v++
      names.push(commonName(s.slice(pos, colon)))
      values.push(s.slice(v, contentEnd))
      if (layout) seps.push(v === colon + 2 && s.charCodeAt(colon + 1) === 32 ? COLON_SP : s.slice(colon, v))
    }
    if (layout) eols.push(eol)
    lastEol = eol
    pos = next
  }
}

/**
 * The usual header names as string constants: V8 then stores them as object keys without looking
 * each fresh copy up in its string table (a measurable share of decoding a chat message).
 */
function commonName(n: string): string {
  switch (n.length) {
    case 12: return n === 'Content-Type' ? 'Content-Type' : n === 'MIME-Version' ? 'MIME-Version' : n
    case 15: return n === 'X-MMS-IM-Format' ? 'X-MMS-IM-Format' : n
    case 10: return n === 'TypingUser' ? 'TypingUser' : n === 'Message-ID' ? 'Message-ID' : n
    case 8: return n === 'P2P-Dest' ? 'P2P-Dest' : n
    default: return n
  }
}

/** Re-read latin1 header text as UTF-8 where it is valid UTF-8. */
export function utf8Header(v: string): string {
  if (!HIGH.test(v)) return v
  const b = Buffer.from(v, 'latin1')
  return isUtf8(b) ? b.toString('utf8') : v
}

/** Read the header block at the start of `buf`: the decoder's fast path. Values are UTF-8 decoded. */
export function readHeaders(buf: Buffer): HeaderBlock {
  const n = buf.length
  // MSG payloads are small; a P2P chunk's binary tail costs one memcpy, which is cheaper than searching
  const s = buf.toString('latin1', 0, n > 4096 ? 4096 : n)
  const block = readHeaderText(s)
  return block.end === '' && n > 4096 ? readHeaderText(buf.toString('latin1')) : block
}

/** The header block at the start of a latin1 view; names and values re-read as UTF-8 where they are. */
export function readHeaderText(s: string): HeaderBlock {
  const block = scanHeaderBlock(s, 0, false)
  if (HIGH.test(block.bodyStart === s.length ? s : s.slice(0, block.bodyStart))) {
    for (let i = 0; i < block.names.length; i++) {
      block.names[i] = utf8Header(block.names[i]!)
      block.values[i] = utf8Header(block.values[i]!)
    }
  }
  return block
}

/** ASCII case-insensitive comparison with a lower-case name, without allocating. */
export function sameLower(name: string, lower: string): boolean {
  const l = lower.length
  if (name.length !== l) return false
  for (let i = 0; i < l; i++) {
    const c = name.charCodeAt(i)
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** The value of the header named `lower` (given in lower case), compared case-insensitively; the last one if repeated. */
export function getHeader(names: readonly string[], values: readonly string[], lower: string): string | undefined {
  for (let i = names.length - 1; i >= 0; i--) if (sameLower(names[i]!, lower)) return values[i]
  return undefined
}

/** Headers as a JSON-friendly object, names as sent (a repeated name shows its last value). */
export function headerObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    if (name === '__proto__') Object.defineProperty(out, name, { value: values[i]!, enumerable: true, writable: true, configurable: true })
    else out[name] = values[i]!
  }
  return out
}

export interface ContentType {
  /** lower-case type/subtype without parameters */
  mediaType: string
  /** the charset parameter as sent, when present */
  charset?: string
}

const contentTypes = new Map<string, ContentType>()

// Content-Type: text/plain; charset=UTF-8
/** Media type and charset of a Content-Type value (the result is shared: do not modify it). */
// the few content types of a session differ in length: one slot per length avoids hashing them
const ctByLength: Array<[string, ContentType] | undefined> = new Array<[string, ContentType] | undefined>(64).fill(undefined)

export function parseContentType(value: string): ContentType {
  const slot = value.length & 63
  const hit = ctByLength[slot]
  if (hit !== undefined && hit[0] === value) return hit[1]
  let ct = contentTypes.get(value)
  if (ct === undefined) {
    ct = readContentType(value)
    if (contentTypes.size >= 256) contentTypes.clear()
    contentTypes.set(value, ct)
  }
  ctByLength[slot] = [value, ct]
  return ct
}

function readContentType(value: string): ContentType {
  const semi = value.indexOf(';')
  const mediaType = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase()
  if (semi < 0) return { mediaType }
  const ct: ContentType = { mediaType }
  const lower = value.toLowerCase()
  const at = lower.indexOf('charset=', semi)
  if (at >= 0) {
    let end = value.indexOf(';', at)
    if (end < 0) end = value.length
    let cs = value.slice(at + 8, end).trim()
    if (cs.length >= 2 && cs.charCodeAt(0) === 34 && cs.charCodeAt(cs.length - 1) === 34) cs = cs.slice(1, -1)
    if (cs !== '') ct.charset = cs
  }
  return ct
}

const decoders = new Map<string, TextDecoder | null>()
interface Utf8Sliceable extends Buffer { utf8Slice(start: number, end: number): string }

/** Node's own encoding for a charset label, or null when TextDecoder must do it. */
function nodeEncoding(label: string): BufferEncoding | null {
  switch (label) {
    case 'utf-8': case 'utf8': return 'utf8'
    case 'us-ascii': case 'ascii': case 'iso-8859-1': case 'latin1': case 'iso8859-1': return 'latin1'
    case 'utf-16': case 'utf-16le': case 'unicode': case 'ucs-2': return 'utf16le'
    default: return null
  }
}

export interface DecodedText {
  text: string
  /** set when the bytes did not decode cleanly in the declared charset */
  error?: string
}

/** Decode body bytes by charset label (UTF-8 when absent or unknown). */
export function decodeText(buf: Buffer, start: number, end: number, charset: string | undefined): DecodedText {
  const label = charset === undefined || charset === 'UTF-8' ? 'utf-8' : charset.trim().toLowerCase()
  let enc = nodeEncoding(label)
  if (enc === null) {
    let dec = decoders.get(label)
    if (dec === undefined) {
      try { dec = new TextDecoder(label) } catch { dec = null }
      if (decoders.size < 64) decoders.set(label, dec)
    }
    if (dec !== null) return { text: dec.decode(buf.subarray(start, end)) }
    enc = 'utf8'
  }
  // the common case straight to Node's UTF-8 decoder, without toString's argument handling
  const text = enc === 'utf8' && start < end && end <= buf.length ? (buf as Utf8Sliceable).utf8Slice(start, end) : buf.toString(enc, start, end)
  if (enc === 'utf8' && text.indexOf('\ufffd') >= 0 && !isUtf8(buf.subarray(start, end))) {
    return { text, error: label === 'utf-8' || label === 'utf8' ? 'text is not valid UTF-8' : `unknown charset ${charset}, text is not valid UTF-8` }
  }
  return { text }
}

/** The Buffer encoding used to write text in a charset (for rewrites); UTF-8 for anything else. */
export function encodingFor(charset: string | undefined): BufferEncoding {
  if (charset === undefined) return 'utf8'
  return nodeEncoding(charset.trim().toLowerCase()) ?? 'utf8'
}

/** Split a payload into its header list (order and layout kept) and body. */
export function parseMime(buf: Buffer): ParsedMime {
  const s = buf.toString('latin1')
  const b = scanHeaderBlock(s)
  const headers: MimeHeader[] = []
  for (let i = 0; i < b.names.length; i++) {
    const rawName = b.names[i]!, rawValue = b.values[i]!
    const wire: HeaderWire = { sep: b.seps[i]!, eol: b.eols[i]! }
    let name = rawName, value = rawValue
    if (HIGH.test(rawName) || HIGH.test(rawValue)) {
      const line = Buffer.from(rawName + rawValue, 'latin1')
      if (isUtf8(line)) { name = utf8Header(rawName); value = utf8Header(rawValue) } else wire.latin1 = true
    }
    headers.push([name, value, wire])
  }
  const lastWire = headers[headers.length - 1]?.[2]
  if (lastWire !== undefined && lastWire.eol !== b.end) lastWire.end = b.end
  const parsed: ParsedMime = { headers, headerEnd: b.bodyStart, body: buf.subarray(b.bodyStart), end: b.end }
  if (b.end === '') parsed.error = 'header block not terminated by an empty line'
  else if (b.badLines > 0) parsed.error = `${b.badLines} header line(s) without a colon`
  return parsed
}

/**
 * Build a payload from headers and body. Headers that came from `parseMime` keep their original
 * separators and line endings; new ones are written `Name: value\r\n`. The closing empty line is
 * `end` when given, else as parsed (see HeaderWire.end), else the last header's line ending.
 */
export function encodeMime(headers: readonly MimeHeader[], body: Buffer, end?: string): Buffer {
  const parts: Buffer[] = []
  let text = ''
  let lastEol = CRLF
  let closing: string | undefined
  for (const [name, value, wire] of headers) {
    const sep = wire?.sep ?? COLON_SP
    // a header with a value needs a separator, even if it was once a line without a colon
    const line = name + (sep === '' && value !== '' ? COLON_SP : sep) + value + (wire?.eol ?? CRLF)
    if (wire?.latin1 === true) {
      parts.push(Buffer.from(text, 'utf8'), Buffer.from(line, 'latin1'))
      text = ''
    } else text += line
    lastEol = wire?.eol ?? CRLF
    closing = wire?.end
  }
  text += end ?? closing ?? (lastEol === '' ? '' : lastEol)
  parts.push(Buffer.from(text, 'utf8'), body)
  return Buffer.concat(parts)
}

/**
 * The header blocks of a payload: one for MSG, and for the MSNP21 multi-part payloads
 * (SDG/NFY/PUT/DEL) Routing, then Reliability when present, then the message block.
 * `s` is a latin1 view of the payload.
 */
export function scanBlocks(s: string): HeaderBlock[] {
  const first = scanHeaderBlock(s)
  const blocks = [first]
  if (first.end === '' || first.names[0]?.toLowerCase() !== 'routing') return blocks
  let b = scanHeaderBlock(s, first.bodyStart)
  blocks.push(b)
  if (b.end !== '' && b.names[0]?.toLowerCase() === 'reliability') {
    b = scanHeaderBlock(s, b.bodyStart)
    blocks.push(b)
  }
  return blocks
}

/**
 * Replace the text of a message, keeping every header byte for byte: the body of a MSG, or the
 * final body of an MSNP21 payload (whose Content-Length is updated). The text is written in the
 * message's charset (UTF-8 unless it names another one Node can write).
 */
export function rewriteText(payloadRaw: Buffer, newText: string): Buffer {
  const blocks = scanBlocks(payloadRaw.toString('latin1'))
  const lastStart = blocks.length > 1 ? blocks[blocks.length - 2]!.bodyStart : 0
  const mime = parseMime(payloadRaw.subarray(lastStart))
  let charset: string | undefined
  for (const h of mime.headers) {
    const lower = h[0].toLowerCase()
    if (lower === 'content-type') charset ??= parseContentType(h[1]).charset
  }
  const body = Buffer.from(newText, encodingFor(charset))
  for (const h of mime.headers) if (h[0].toLowerCase() === 'content-length') h[1] = String(body.length)
  // a block that never ended gets its empty line now, or the text would become a header
  const lastWire = mime.headers[mime.headers.length - 1]?.[2]
  if (mime.end === '' && lastWire !== undefined && lastWire.eol === '') lastWire.eol = CRLF
  const encoded = encodeMime(mime.headers, body, mime.end === '' ? CRLF : undefined)
  return lastStart === 0 ? encoded : Buffer.concat([payloadRaw.subarray(0, lastStart), encoded])
}

/** The body as text when it is valid UTF-8 without control characters (tab and line breaks allowed). */
export function printableText(buf: Buffer, start = 0, end = buf.length): string | undefined {
  if (end <= start) return ''
  const view = start === 0 && end === buf.length ? buf : buf.subarray(start, end)
  if (!isUtf8(view)) return undefined
  const text = view.toString('utf8')
  return CONTROL.test(text) ? undefined : text
}

/** A short hex preview of binary bytes for display (never the whole thing). */
export function hexPreview(buf: Buffer, start = 0, end = buf.length, max = 16): string {
  return buf.toString('hex', start, Math.min(end, start + max))
}
