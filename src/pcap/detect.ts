/**
 * What a TCP stream carries, from its first bytes: MSNP (and which end is the client), HTTP
 * (the gateway may be inside), or something else. MSNP is recognised by content on any port:
 * the first line must be a well-formed command of a known verb (TrID where the verb has one,
 * payload length where it carries a payload). A stream seen from its middle may start inside a
 * payload, so there the first such line must also be followed by a second one. Other traffic
 * (DCE-RPC, SMB, web pages, FTP and SMTP banners) fails these checks.
 */
import type { Side } from '../protocol/events.js'
import { isDecimal, isErrorVerb, KNOWN_VERBS, payloadLengthIndex } from '../protocol/verbs.js'

export type StreamGuess =
  | { protocol: 'msnp'; side: Side | null }
  | { protocol: 'http'; side: Side }
  | { protocol: 'other'; reason: string }

export interface DetectOptions {
  /** the stream may start in the middle of a message (no handshake, or bytes lost first) */
  midStream: boolean
  /** weaker evidence will do (a port that MSNP uses, or one the user named) */
  lenient: boolean
  /** no more bytes will come: decide with what there is */
  final?: boolean
}

/** Bytes looked at before giving up. */
export const DETECT_BUDGET = 16 * 1024

const MAX_LINE = 4096
const REQUEST_LINE = /^[A-Z][A-Z-]{1,19} \S+ HTTP\/1\.\d\r?$/
const STATUS_LINE = /^HTTP\/1\.\d \d{3}( .*)?\r?$/

/** Verbs whose token 1 is always a TrID, in both directions. */
const TRID_VERBS = new Set(['ACK', 'NAK', 'ILN', 'IRO', 'CHL', 'VER', 'CVR', 'INF', 'USR', 'XFR', 'SYN', 'CHG', 'CAL', 'ANS', 'ADD', 'REM', 'ADC', 'ADG', 'RMG', 'REG', 'REA', 'QRY', 'UUX', 'ADL', 'RML', 'URL', 'SBS', 'SBP', 'FND', 'SND', 'PGD', 'PRP'])
/** Verbs only a server sends. */
const SERVER_VERBS = new Set(['JOI', 'IRO', 'NLN', 'ILN', 'FLN', 'RNG', 'LST', 'LSG', 'BPR', 'SBS', 'CHL', 'UBX', 'UBN', 'UBM', 'NOT', 'IPG', 'QNG', 'ACK', 'NAK', 'BYE', 'NFY', 'GCF'])
/** Verbs only a client sends. */
const CLIENT_VERBS = new Set(['PNG', 'CAL', 'ANS', 'UUN', 'UUM', 'PGD', 'PAG', 'VAS'])
const AUTH = new Set(['MD5', 'TWN', 'SSO', 'SHA', 'CTP'])

interface LineCheck { verb: string; tokens: string[]; side: Side | null; strong: boolean }

/** Is this one line (without its line end) a well-formed MSNP command? */
export function checkMsnpLine(line: string): LineCheck | null {
  if (line.length < 3 || line.length > MAX_LINE) return null
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return null
  }
  const tokens = line.split(' ')
  for (const t of tokens) if (t === '') return null
  const verb = tokens[0]!
  if (isErrorVerb(verb)) {
    if (tokens.length < 2 || tokens.length > 3 || !tokens.slice(1).every(isDecimal)) return null
    return { verb, tokens, side: 'server', strong: false }
  }
  if (!KNOWN_VERBS.has(verb)) return null
  if (TRID_VERBS.has(verb) && !isDecimal(tokens[1])) return null
  const side = sideOf(verb, tokens)
  // a payload verb needs a decimal length where it carries one
  const sides = side === null ? (['client', 'server'] as const) : [side]
  if (!sides.some((s) => { const idx = payloadLengthIndex(tokens, s, null); return idx < 0 || isDecimal(tokens[idx]) })) return null
  return { verb, tokens, side, strong: true }
}

/** Which end sends a command of this shape; null when both could. */
function sideOf(verb: string, t: string[]): Side | null {
  if (SERVER_VERBS.has(verb)) return 'server'
  if (CLIENT_VERBS.has(verb)) return 'client'
  const n = t.length
  switch (verb) {
    case 'MSG':
      return n === 4 && isDecimal(t[1]) && /^[UNADS]$/.test(t[2]!) ? 'client' : n === 4 ? 'server' : null
    case 'XFR':
      return n === 3 ? 'client' : n >= 4 ? 'server' : null
    case 'QRY':
      return n === 4 ? 'client' : n === 2 ? 'server' : null
    case 'USR':
      if (t[2] === 'OK') return 'server'
      if (n >= 5 && AUTH.has(t[2]!) && t[3] === 'I') return 'client'
      if (n === 4 && !AUTH.has(t[2]!) && t[2]!.includes('@')) return 'client'
      return null
    case 'VER':
      return t.includes('CVR0') || n > 3 ? 'client' : null
    case 'CVR':
      return /^0x/i.test(t[2] ?? '') ? 'client' : 'server'
    default:
      return null
  }
}

/** What one direction's first bytes are; null while more bytes are needed to tell. */
export function detectStream(bytes: Buffer, options: DetectOptions): StreamGuess | null {
  const final = options.final === true || bytes.length >= DETECT_BUDGET
  const lf = bytes.indexOf(0x0a)
  const firstLine = lf < 0 ? null : bytes.toString('latin1', 0, lf)
  // HTTP first: GET and PUT are MSNP verbs too
  if (firstLine !== null) {
    if (REQUEST_LINE.test(firstLine)) return { protocol: 'http', side: 'client' }
    if (STATUS_LINE.test(firstLine)) return { protocol: 'http', side: 'server' }
  } else if (!final && couldStartHttp(bytes)) return null
  const at0 = atOffsetZero(bytes, lf, options, final)
  if (at0 !== undefined) return at0
  if (!options.midStream) return { protocol: 'other', reason: 'does not start with an MSNP command' }
  return scanMidStream(bytes, options, final)
}

/** Judge the first line; undefined to fall through to the mid-stream scan. */
function atOffsetZero(bytes: Buffer, lf: number, options: DetectOptions, final: boolean): StreamGuess | null | undefined {
  if (lf < 0) {
    if (!final && couldStartMsnp(bytes)) return null
    return options.midStream ? undefined : { protocol: 'other', reason: 'does not start with an MSNP command' }
  }
  const check = checkMsnpLine(stripCr(bytes.toString('latin1', 0, lf)))
  if (check === null) return undefined
  if (check.strong || options.lenient) return { protocol: 'msnp', side: check.side }
  const next = nextCommand(bytes, lf + 1, check)
  if (next === 'wait') return final ? undefined : null
  return next === null ? undefined : { protocol: 'msnp', side: check.side ?? next.side }
}

/** A stream seen from its middle: find a command line after a line end, confirmed by the next one. */
function scanMidStream(bytes: Buffer, options: DetectOptions, final: boolean): StreamGuess | null {
  const end = Math.min(bytes.length, DETECT_BUDGET)
  let at = bytes.indexOf(0x0a)
  while (at >= 0 && at < end) {
    const start = at + 1
    const lf = bytes.indexOf(0x0a, start)
    if (lf < 0) break
    const check = checkMsnpLine(stripCr(bytes.toString('latin1', start, lf)))
    if (check !== null && check.strong) {
      const next = nextCommand(bytes, lf + 1, check)
      if (next !== null && next !== 'wait') return { protocol: 'msnp', side: check.side ?? next.side }
      if (next === 'wait' && options.lenient) return { protocol: 'msnp', side: check.side }
      if (next === 'wait' && !final) return null
    }
    at = lf
  }
  if (!final) return null
  return { protocol: 'other', reason: 'no MSNP command found' }
}

/** The command after `prev` (whose line ended at `from`): checked, 'wait' for more bytes, or null. */
function nextCommand(bytes: Buffer, from: number, prev: LineCheck): LineCheck | 'wait' | null {
  let at = from
  const sides = prev.side === null ? (['client', 'server'] as const) : [prev.side]
  for (const s of sides) {
    const idx = payloadLengthIndex(prev.tokens, s, null)
    if (idx >= 0) { at = from + Number(prev.tokens[idx]); break }
  }
  if (at >= bytes.length) return 'wait'
  const lf = bytes.indexOf(0x0a, at)
  if (lf < 0) return bytes.length - at > MAX_LINE ? null : 'wait'
  return checkMsnpLine(stripCr(bytes.toString('latin1', at, lf)))
}

const stripCr = (s: string): string => (s.endsWith('\r') ? s.slice(0, -1) : s)

/** The bytes so far could be the start of a command line (three capitals or digits, then a space). */
function couldStartMsnp(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, 4)
  for (let i = 0; i < n; i++) {
    const c = bytes.readUInt8(i)
    if (i < 3 && !((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false
    if (i === 3 && c !== 0x20 && c !== 0x0d) return false
  }
  if (n >= 3 && !KNOWN_VERBS.has(bytes.toString('latin1', 0, 3)) && !isErrorVerb(bytes.toString('latin1', 0, 3))) return false
  return bytes.length <= MAX_LINE
}

function couldStartHttp(bytes: Buffer): boolean {
  const head = bytes.toString('latin1', 0, Math.min(bytes.length, 8))
  if ('HTTP/1.'.startsWith(head.slice(0, 7))) return bytes.length <= MAX_LINE
  return /^[A-Z]{1,19}( |$)/.test(head) && bytes.length <= MAX_LINE
}
