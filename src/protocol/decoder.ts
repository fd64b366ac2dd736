/**
 * The incremental MSNP decoder for one direction of one connection: bytes in, events out.
 *
 * It does no I/O and never throws on wire bytes. Every byte pushed ends up in exactly one event's
 * `raw` (commands, or `malformed` events for lines it cannot read), in stream order, so a proxy
 * can forward what it does not understand unchanged. After a line it cannot use it resynchronises
 * at the next LF; after a gap (bytes lost in a capture) it skips to the next line that starts with
 * a known verb.
 */
import { isUtf8 } from 'node:buffer'
import type { CommandEvent, Fields, MalformedCode, MalformedEvent, MsnpEvent, Side, WireLayout } from './events.js'
import { hasTrId, isErrorVerb, KNOWN_VERBS, lengthIndexOf, payloadLengthIndex, trIdOf } from './verbs.js'
import { decodeFields } from './fields.js'
import { decodePayload } from './payload.js'
import type { SliceableBuffer } from '../buffers.js'

export interface Limits {
  /** longest command line accepted, CRLF included */
  maxLine: number
  /** largest payload accepted */
  maxPayload: number
}

export const DEFAULT_LIMITS: Limits = { maxLine: 16 * 1024, maxPayload: 1024 * 1024 }

/**
 * The dialect of a connection, shared by the decoders of its two directions (and inherited by
 * the switchboards a notification session creates). A client's VER offer sets it tentatively;
 * the server's VER answer settles it.
 */
export interface DialectState {
  dialect: number | null
  confirmed: boolean
}

export interface DecoderOptions {
  limits?: Partial<Limits>
  /** a number fixes the dialect (e.g. a switchboard inherits it); a shared state follows VER */
  dialect?: number | DialectState | null
  /** decode per-verb fields and payloads (default true); framing only when false */
  decode?: boolean
  /** start in resync mode: the stream may begin in the middle of a command (capture without SYN) */
  midStream?: boolean
}

const LF = 0x0a
const CR = 0x0d
const EMPTY: Buffer = Buffer.alloc(0)
/**
 * The fields of a command not decoded yet: until decodeFields replaces them, or for good when the
 * decoder only frames (option `decode: false`) and nobody calls ensureDecoded.
 */
const PENDING_FIELDS: Fields = Object.freeze({})

/**
 * The fields and payload of a command, in place: what the decoder does for every command, and
 * what a consumer of commands framed without decoding (option `decode: false`) does for those it
 * needs in full.
 */
export function completeDecoding(cmd: CommandEvent): void {
  cmd.fields = decodeFields(cmd)
  cmd.payload = cmd.payloadRaw === null ? null : decodePayload(cmd, cmd.payloadRaw)
}

/** completeDecoding for a command a decoder framed without decoding; nothing for one already decoded. */
export function ensureDecoded(cmd: CommandEvent): void {
  if (cmd.fields === PENDING_FIELDS) completeDecoding(cmd)
}

/** Parse "MSNP12" (any case) to 12. */
export function parseDialect(token: string): number | null {
  if (token.length < 5 || token.length > 7) return null
  if (token.slice(0, 4).toUpperCase() !== 'MSNP') return null
  const n = Number(token.slice(4))
  return Number.isInteger(n) && n >= 2 && n <= 99 ? n : null
}

interface Pending { line: Buffer; verb: string; trId: number | null; args: string[]; notes: string[] | undefined; need: number; offset: number; wire: WireLayout | undefined }

export class MsnpDecoder {
  readonly limits: Limits
  readonly dialectState: DialectState
  #buf: Buffer = EMPTY
  #pos = 0
  /** stream offset of #buf[#pos] */
  #offset = 0
  #pending: Pending | null = null
  #resync: boolean
  #skipToLf = false
  readonly #decode: boolean

  constructor(readonly from: Side, options: DecoderOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits }
    const d = options.dialect
    this.dialectState = typeof d === 'object' && d !== null ? d : { dialect: d ?? null, confirmed: typeof d === 'number' }
    this.#decode = options.decode ?? true
    this.#resync = options.midStream ?? false
  }

  get dialect(): number | null { return this.dialectState.dialect }

  /** Bytes received but not yet part of an emitted event. */
  get buffered(): number { return this.#buf.length - this.#pos }

  /** The stream offset of the next byte to be pushed. */
  get offset(): number { return this.#offset + this.#buf.length - this.#pos }

  push(chunk: Buffer): MsnpEvent[] {
    const events: MsnpEvent[] = []
    if (chunk.length === 0) return events
    if (this.#pos >= this.#buf.length) { this.#buf = chunk; this.#pos = 0 }
    else { this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), chunk]); this.#pos = 0 }
    this.#run(events)
    if (this.#pos >= this.#buf.length) { this.#buf = EMPTY; this.#pos = 0 }
    else if (2 * (this.#buf.length - this.#pos) < this.#buf.buffer.byteLength) {
      // the start of a command waits for its end: a copy of it, so that it does not keep the
      // whole read buffer it came in alive (a capture import reads in batches of 256 KiB)
      this.#buf = Buffer.from(this.#buf.subarray(this.#pos))
      this.#pos = 0
    }
    return events
  }

  /**
   * `n` bytes of the stream are missing (a capture lost them). Whatever was buffered is emitted
   * as malformed, and decoding resumes at the next line that starts with a known verb.
   */
  gap(n: number): MsnpEvent[] {
    const events: MsnpEvent[] = []
    this.#flushBuffered(events, 'truncated', `incomplete command before a gap of ${n} bytes`)
    this.#offset += n
    this.#resync = true
    this.#skipToLf = false
    return events
  }

  /** The stream ended: an incomplete command becomes a `truncated` malformed event. */
  end(): MsnpEvent[] {
    const events: MsnpEvent[] = []
    this.#flushBuffered(events, 'truncated', 'stream ended inside a command')
    return events
  }

  #flushBuffered(events: MsnpEvent[], code: MalformedCode, reason: string): void {
    const p = this.#pending
    if (p !== null) {
      const raw = Buffer.concat([p.line, this.#buf.subarray(this.#pos)])
      events.push(this.#malformed(raw, p.offset, code, `${reason}: ${this.#buf.length - this.#pos} of ${p.need} payload bytes`))
      this.#pending = null
    } else if (this.#pos < this.#buf.length) {
      const raw = Buffer.from(this.#buf.subarray(this.#pos))
      events.push(this.#malformed(raw, this.#offset, code, reason))
    } else return
    this.#offset += this.#buf.length - this.#pos
    this.#buf = EMPTY
    this.#pos = 0
  }

  #malformed(raw: Buffer, offset: number, code: MalformedCode, reason: string): MalformedEvent {
    return { kind: 'malformed', from: this.from, offset, raw, code, reason }
  }

  /** Take `n` bytes from the buffer as an event's raw bytes. */
  #take(n: number): Buffer {
    const out = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    this.#offset += n
    return out
  }

  #run(events: MsnpEvent[]): void {
    const buf = this.#buf
    for (;;) {
      const avail = buf.length - this.#pos
      if (avail === 0) return
      const p = this.#pending
      if (p !== null) {
        if (avail < p.need) return
        const payload = this.#take(p.need)
        this.#pending = null
        const raw = Buffer.concat([p.line, payload])
        events.push(this.#command(p.verb, p.trId, p.args, p.notes, raw, raw.subarray(p.line.length), p.offset, p.wire))
        continue
      }
      if (this.#resync && !this.#seekCommandStart(events)) return
      const lf = buf.indexOf(LF, this.#pos)
      if (this.#skipToLf) {
        const end = lf < 0 ? buf.length : lf + 1
        const start = this.#offset
        events.push(this.#malformed(this.#take(end - this.#pos), start, 'line-too-long', 'rest of an over-long line'))
        if (lf >= 0) this.#skipToLf = false
        continue
      }
      if (lf < 0) {
        if (avail > this.limits.maxLine) {
          const start = this.#offset
          events.push(this.#malformed(this.#take(avail), start, 'line-too-long', `line longer than ${this.limits.maxLine} bytes`))
          this.#skipToLf = true
        }
        return
      }
      const lineLen = lf + 1 - this.#pos
      if (lineLen > this.limits.maxLine) {
        const start = this.#offset
        events.push(this.#malformed(this.#take(lineLen), start, 'line-too-long', `line of ${lineLen} bytes, limit ${this.limits.maxLine}`))
        continue
      }
      this.#line(events, lf)
    }
  }

  /**
   * In resync mode, skip to a plausible command start: a known verb or three digits followed by
   * SP, CR or LF, at the current position or right after a LF. Returns false to wait for bytes.
   */
  #seekCommandStart(events: MsnpEvent[]): boolean {
    const buf = this.#buf
    let at = this.#pos
    for (;;) {
      if (buf.length - at < 4) {
        // not enough to judge; keep what might be a command start, skip what cannot be
        if (at > this.#pos) {
          const start = this.#offset
          events.push(this.#malformed(this.#take(at - this.#pos), start, 'resync', 'skipped while resynchronising'))
        }
        return false
      }
      if (looksLikeCommandStart(buf, at)) break
      const lf = buf.indexOf(LF, at)
      if (lf < 0) { at = buf.length; continue }
      at = lf + 1
    }
    if (at > this.#pos) {
      const start = this.#offset
      events.push(this.#malformed(this.#take(at - this.#pos), start, 'resync', 'skipped while resynchronising'))
    }
    this.#resync = false
    return true
  }

  #line(events: MsnpEvent[], lf: number): void {
    const buf = this.#buf
    const start = this.#pos
    const offset = this.#offset
    let end = lf
    let wire: WireLayout | undefined
    if (end > start && buf[end - 1] === CR) end--
    else wire = { eol: '\n' }
    if (end === start) {
      events.push(this.#malformed(this.#take(lf + 1 - start), offset, 'empty-line', 'empty line'))
      return
    }
    // one pass over the bytes finds the tokens of a plain line (ASCII, single spaces, no tabs):
    // a known verb then takes the short route, which makes strings only for the arguments
    const B = BOUNDS
    let n = 0
    let from = start
    let plain = true
    for (let i = start; i < end; i++) {
      const c = buf[i]!
      if (c === 0x20) {
        if (i === from || n === MAX_PLAIN_TOKENS - 1) { plain = false; break }
        B[2 * n] = from
        B[2 * n + 1] = i
        n++
        from = i + 1
      } else if (c >= 0x80 || c === 0x09) { plain = false; break }
    }
    if (plain && from < end) {
      B[2 * n] = from
      B[2 * n + 1] = end
      n++
      const verb = verbString(buf, start, B[1]!)
      if (verb !== undefined) { this.#plainLine(events, verb, n, start, end, lf, offset, wire); return }
    }
    this.#otherLine(events, start, end, lf, offset, wire)
  }

  /** A plain line with a known upper-case verb, its tokens in BOUNDS. */
  #plainLine(events: MsnpEvent[], verb: string, n: number, start: number, end: number, lf: number, offset: number, wire: WireLayout | undefined): void {
    const buf = this.#buf
    const B = BOUNDS
    const dialect = this.dialectState.dialect
    const last = 2 * n - 2
    const lenIdx = lengthIndexOf(verb, n, this.from, dialect, decimalAt(buf, B[last]!, B[last + 1]!) >= 0)
    const withTrId = trIdOf(verb, n, this.from, dialect, n >= 2 && decimalAt(buf, B[2]!, B[3]!) >= 0)
    let text: string | undefined
    let trId: number | null = null
    let first = 1
    if (withTrId) {
      trId = decimalAt(buf, B[2]!, B[3]!)
      if (trId > 4294967295) trId = null
      else {
        first = 2
        if (B[3]! - B[2]! > 1 && buf[B[2]!] === 0x30) wire = { ...wire, trIdToken: (buf as SliceableBuffer).latin1Slice(B[2]!, B[3]!) }
      }
    }
    const args: string[] = []
    for (let k = first; k < n; k++) {
      if (k === lenIdx) continue
      const s = B[2 * k]!, e = B[2 * k + 1]!
      // one-character strings are the engine's own, shared; the others are cut from the line
      if (e - s === 1) args.push(ONE_CHAR[buf[s]!]!)
      else args.push((text ??= (buf as SliceableBuffer).latin1Slice(start, end)).slice(s - start, e - start))
    }
    const lineLen = lf + 1 - start
    if (lenIdx < 0) {
      events.push(this.#command(verb, trId, args, undefined, this.#take(lineLen), null, offset, wire))
      return
    }
    const ls = B[2 * lenIdx]!, le = B[2 * lenIdx + 1]!
    const need = decimalAt(buf, ls, le)
    const bad = this.#lengthProblem(verb, lenIdx === 1 && withTrId, need, need < 0 ? (buf as SliceableBuffer).latin1Slice(ls, le) : '')
    if (bad !== null) {
      events.push(this.#malformed(this.#take(lineLen), offset, bad.code, bad.reason))
      return
    }
    if (le - ls > 1 && buf[ls] === 0x30) wire = { ...wire, lengthToken: (buf as SliceableBuffer).latin1Slice(ls, le) }
    this.#withPayload(events, verb, trId, args, undefined, lineLen, need, offset, wire)
  }

  /** Any other line: high bytes, tabs or runs of spaces, lower-case or unknown verbs, errors, non-commands. */
  #otherLine(events: MsnpEvent[], start: number, end: number, lf: number, offset: number, wire: WireLayout | undefined): void {
    const buf = this.#buf
    // command lines are ASCII almost always: read them as latin1 (the cheapest decode), and
    // decode as UTF-8 only lines with high bytes, keeping latin1 for lines that are not UTF-8
    let text = (buf as SliceableBuffer).latin1Slice(start, end)
    // a latin1 string is ASCII exactly when its UTF-8 length equals its length
    if (Buffer.byteLength(text, 'utf8') !== text.length) {
      if (isUtf8(buf.subarray(start, end))) text = (buf as SliceableBuffer).utf8Slice(start, end)
      else wire = { ...wire, latin1: true }
    }
    let tokens = text.split(' ')
    let irregular = text.indexOf('\t') >= 0
    if (!irregular) for (let i = 0; i < tokens.length; i++) if (tokens[i] === '') { irregular = true; break }
    if (irregular) {
      const sep = text.match(/^[ \t]*/)![0]
      const parts = text.split(/([ \t]+)/)
      tokens = []
      const seps = [sep]
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!
        if (i % 2 === 0) { if (part !== '') tokens.push(part) } else if (i > 1 || parts[0] !== '') seps.push(part)
      }
      if (seps.length === tokens.length) seps.push('')
      wire = { ...wire, sep: seps }
    }
    const verb = tokens[0] ?? ''
    const lineLen = lf + 1 - start
    if (!isVerbToken(verb)) {
      events.push(this.#malformed(this.#take(lineLen), offset, 'not-a-command', `not an MSNP command: ${JSON.stringify(text.slice(0, 40))}`))
      return
    }
    // tables are keyed by upper-case verbs; lower-case ones are decoded as their upper-case twin
    const lower = verb.charCodeAt(0) >= 97 || verb.charCodeAt(1) >= 97 || verb.charCodeAt(2) >= 97
    const keyed = lower ? [verb.toUpperCase(), ...tokens.slice(1)] : tokens
    const notes = lower ? ['lowercase verb'] : !KNOWN_VERBS.has(verb) && !isErrorVerb(verb) ? ['unknown verb'] : undefined
    const dialect = this.dialectState.dialect
    const lenIdx = payloadLengthIndex(keyed, this.from, dialect)
    const withTrId = hasTrId(keyed, this.from, dialect)
    let trId: number | null = null
    if (withTrId) {
      const t = tokens[1]!
      // hasTrId checked that it is decimal
      trId = decimalValue(t)
      if (trId > 4294967295) trId = null
      else if (t.length > 1 && t.charCodeAt(0) === 48) wire = { ...wire, trIdToken: t }
    }
    const args: string[] = []
    for (let i = trId === null ? 1 : 2; i < tokens.length; i++) if (i !== lenIdx) args.push(tokens[i]!)
    if (lenIdx < 0) {
      events.push(this.#command(verb, trId, args, notes, this.#take(lineLen), null, offset, wire))
      return
    }
    const lenToken = tokens[lenIdx]!
    const need = decimalValue(lenToken)
    const bad = this.#lengthProblem(verb, lenIdx === 1 && withTrId, need, lenToken)
    if (bad !== null) {
      events.push(this.#malformed(this.#take(lineLen), offset, bad.code, bad.reason))
      return
    }
    if (lenToken.length > 1 && lenToken.charCodeAt(0) === 48) wire = { ...wire, lengthToken: lenToken }
    this.#withPayload(events, verb, trId, args, notes, lineLen, need, offset, wire)
  }

  /**
   * Why a command line's payload length cannot be used, or null: `need` is its value (-1 when it
   * is not a number) and `token` the length as written (read only when it is not a number).
   */
  #lengthProblem(verb: string, afterTrIdOnly: boolean, need: number, token: string): { code: MalformedCode; reason: string } | null {
    // `QRY 11`: the only number is the TrID, the length is missing
    if (afterTrIdOnly) return { code: 'bad-payload-length', reason: `${verb} needs a payload length after its TrID` }
    if (need < 0) return { code: 'bad-payload-length', reason: `${verb} needs a payload length, got ${JSON.stringify(token.slice(0, 20))}` }
    if (need > this.limits.maxPayload) return { code: 'payload-too-large', reason: `${verb} announces ${need} payload bytes, limit ${this.limits.maxPayload}` }
    return null
  }

  /** A command line announcing `need` payload bytes: the command now, or once they are here. */
  #withPayload(events: MsnpEvent[], verb: string, trId: number | null, args: string[], notes: string[] | undefined, lineLen: number, need: number, offset: number, wire: WireLayout | undefined): void {
    if (this.#buf.length - this.#pos - lineLen >= need) {
      const raw = this.#take(lineLen + need)
      events.push(this.#command(verb, trId, args, notes, raw, raw.subarray(lineLen), offset, wire))
      return
    }
    // wait for the payload; copy the line so the chunk it came in can be released
    const line = Buffer.from(this.#take(lineLen))
    this.#pending = { line, verb, trId, args, notes, need, offset, wire }
  }

  /** The event of a command; `notes` for a lower-case or unknown verb. */
  #command(verb: string, trId: number | null, args: string[], notes: string[] | undefined, raw: Buffer, payloadRaw: Buffer | null, offset: number, wire: WireLayout | undefined): CommandEvent {
    if (verb === 'VER' || (notes !== undefined && verb.toUpperCase() === 'VER')) this.#noteVer(args)
    const event: CommandEvent = {
      kind: 'command', from: this.from, offset, raw, verb, trId, args,
      payloadLength: payloadRaw === null ? null : payloadRaw.length,
      payloadRaw, fields: PENDING_FIELDS, payload: null, dialect: this.dialectState.dialect,
    }
    if (wire !== undefined) event.wire = wire
    if (notes !== undefined) event.notes = notes
    if (this.#decode) completeDecoding(event)
    return event
  }

  /** VER from the server settles the dialect; the client's offer sets it until then. */
  #noteVer(args: string[]): void {
    const st = this.dialectState
    if (this.from === 'server') {
      const d = args[0] === undefined ? null : parseDialect(args[0])
      if (d !== null) { st.dialect = d; st.confirmed = true }
    } else if (!st.confirmed) {
      for (const a of args) {
        const d = parseDialect(a)
        if (d !== null) { st.dialect = d; break }
      }
    }
  }
}

const isUpperOrDigit = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 48 && c <= 57)

const isLetter = (x: number): boolean => (x >= 65 && x <= 90) || (x >= 97 && x <= 122)
const isDigit = (x: number): boolean => x >= 48 && x <= 57

/** A verb: three letters (any case, flagged when lower) or three digits. */
function isVerbToken(t: string): boolean {
  if (t.length !== 3) return false
  const a = t.charCodeAt(0), b = t.charCodeAt(1), c = t.charCodeAt(2)
  return (isLetter(a) && isLetter(b) && isLetter(c)) || (isDigit(a) && isDigit(b) && isDigit(c))
}

/** The known verbs by their three upper-case letters, (a - 65) << 10 | (b - 65) << 5 | (c - 65). */
const VERB_STRINGS: Array<string | undefined> = new Array<string | undefined>(26 << 10).fill(undefined)
for (const v of KNOWN_VERBS) VERB_STRINGS[((v.charCodeAt(0) - 65) << 10) | ((v.charCodeAt(1) - 65) << 5) | (v.charCodeAt(2) - 65)] = v

/**
 * The shared string of a known verb at buf[start, end), or undefined: no slice per command, and
 * the verb tables look up a string whose hash is already known.
 */
function verbString(buf: Buffer, start: number, end: number): string | undefined {
  if (end - start !== 3) return undefined
  const a = buf[start]! - 65, b = buf[start + 1]! - 65, c = buf[start + 2]! - 65
  if (a < 0 || a > 25 || b < 0 || b > 25 || c < 0 || c > 25) return undefined
  return VERB_STRINGS[(a << 10) | (b << 5) | c]
}

/** Tokens of a plain line that take the short route; a longer line takes the general one. */
const MAX_PLAIN_TOKENS = 64
/** Where each token of the line being read starts and ends: token k is buf[B[2k], B[2k + 1]). */
const BOUNDS = new Int32Array(2 * MAX_PLAIN_TOKENS)
/** The strings of one ASCII character. */
const ONE_CHAR: string[] = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c))

/** The value of the decimal digits buf[start, end) (1 to 15 of them), else -1. */
function decimalAt(buf: Buffer, start: number, end: number): number {
  const n = end - start
  if (n <= 0 || n > 15) return -1
  let v = 0
  for (let i = start; i < end; i++) {
    const c = buf[i]! - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

/** The value of a decimal token of 1 to 15 digits (as isDecimal accepts), else -1; Number() without the runtime call. */
function decimalValue(s: string): number {
  const n = s.length
  if (n === 0 || n > 15) return -1
  let v = 0
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

function looksLikeCommandStart(buf: Buffer, at: number): boolean {
  const a = buf[at]!, b = buf[at + 1]!, c = buf[at + 2]!, d = buf[at + 3]!
  if (!(isUpperOrDigit(a) && isUpperOrDigit(b) && isUpperOrDigit(c))) return false
  if (d !== 0x20 && d !== CR && d !== LF) return false
  const verb = String.fromCharCode(a, b, c)
  return KNOWN_VERBS.has(verb) || isErrorVerb(verb)
}
