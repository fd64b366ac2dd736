/**
 * Verb tables: which commands carry a TrID and which carry a payload, by direction and dialect
 * (../docs/protocol-notes.md; framing rules from the MSNP reference, section 4 of framing.md).
 * Pure data plus two small functions; the decoder never guesses "has a payload" from the shape
 * of a line except where a rule below says so.
 */
import type { Side } from './events.js'

/** Dialect range, inclusive. `max` omitted = still present in MSNP21. */
interface Range { min: number; max?: number }

/**
 * How a command in one direction finds its payload length:
 * - 'always': the last token is the length;
 * - 'unless-ok': `CMD t OK` has none, otherwise a decimal last token is the length (ADL/RML/PUT/DEL acks);
 * - 'if-numeric': a decimal last token after at least `minTokens` tokens is the length (GCF, errors, GET).
 */
export type PayloadRule = 'always' | 'unless-ok' | 'if-numeric'

interface PayloadEntry { rule: PayloadRule; range: Range; minTokens?: number }

const ANY: Range = { min: 2 }

/** C->S payload carriers. */
export const CLIENT_PAYLOAD: ReadonlyMap<string, PayloadEntry> = new Map<string, PayloadEntry>([
  ['MSG', { rule: 'always', range: ANY }],
  ['QRY', { rule: 'always', range: { min: 6 } }],
  ['PAG', { rule: 'always', range: { min: 2, max: 8 } }],
  ['PGD', { rule: 'always', range: { min: 9 } }],
  ['SDC', { rule: 'always', range: { min: 5 } }],
  ['UUX', { rule: 'always', range: { min: 11 } }],
  ['ADL', { rule: 'always', range: { min: 13 } }],
  ['RML', { rule: 'always', range: { min: 13 } }],
  ['FQY', { rule: 'always', range: { min: 14 } }],
  ['UUN', { rule: 'always', range: { min: 13 } }],
  ['UUM', { rule: 'always', range: { min: 14 } }],
  ['VAS', { rule: 'always', range: { min: 16 } }],
  ['SDG', { rule: 'always', range: { min: 21 } }],
  ['PUT', { rule: 'always', range: { min: 21 } }],
  ['DEL', { rule: 'always', range: { min: 21 } }],
  ['GET', { rule: 'if-numeric', range: { min: 21 }, minTokens: 3 }],
  ['FSL', { rule: 'if-numeric', range: { min: 21 }, minTokens: 3 }],
])

/** S->C payload carriers. NOT and IPG are seen from MSNP6; older dialects are not pinned down, so allow all. */
export const SERVER_PAYLOAD: ReadonlyMap<string, PayloadEntry> = new Map<string, PayloadEntry>([
  ['MSG', { rule: 'always', range: ANY }],
  ['NOT', { rule: 'always', range: ANY }],
  ['IPG', { rule: 'always', range: ANY }],
  ['UBX', { rule: 'always', range: { min: 11 } }],
  ['UUX', { rule: 'always', range: { min: 11 } }],
  ['UBN', { rule: 'always', range: { min: 13 } }],
  ['UBM', { rule: 'always', range: { min: 14 } }],
  ['FQY', { rule: 'always', range: { min: 14 } }],
  ['NFY', { rule: 'always', range: { min: 21 } }],
  ['SDG', { rule: 'always', range: { min: 21 } }],
  ['GCF', { rule: 'if-numeric', range: { min: 11 }, minTokens: 3 }],
  ['ADL', { rule: 'unless-ok', range: { min: 13 } }],
  ['RML', { rule: 'unless-ok', range: { min: 13 } }],
  ['UUN', { rule: 'unless-ok', range: { min: 13 } }],
  ['UUM', { rule: 'unless-ok', range: { min: 14 } }],
  ['PUT', { rule: 'unless-ok', range: { min: 21 } }],
  ['DEL', { rule: 'unless-ok', range: { min: 21 } }],
  ['GET', { rule: 'if-numeric', range: { min: 21 }, minTokens: 3 }],
  ['FSL', { rule: 'if-numeric', range: { min: 21 }, minTokens: 3 }],
])

/** Commands that never carry a TrID, per direction (commands.md section 10). */
const SERVER_NO_TRID = new Set(['NLN', 'FLN', 'UBX', 'UBN', 'UBM', 'NOT', 'IPG', 'RNG', 'JOI', 'BYE', 'BPR', 'QNG', 'NFY', 'MSG', 'OUT'])
const CLIENT_NO_TRID = new Set(['PNG', 'OUT'])
/** Sent with a TrID in MSNP2-7 and inside SYN without one from MSNP8 (but with one when echoing a request). */
const SYN_FOLLOWUPS = new Set(['GTC', 'BLP', 'PRP', 'LSG', 'LST'])

/** Every verb in the reference; anything else decodes as an unknown single-line command. */
export const KNOWN_VERBS: ReadonlySet<string> = new Set([
  'VER', 'CVR', 'CVQ', 'INF', 'USR', 'XFR', 'OUT', 'GCF', 'SBS', 'URL', 'PNG', 'QNG', 'CHL', 'QRY',
  'SYN', 'GTC', 'BLP', 'LST', 'LSG', 'PRP', 'BPR', 'ADD', 'ADC', 'REM', 'REA', 'SBP', 'ADG', 'RMG',
  'REG', 'GSB', 'CHG', 'ILN', 'NLN', 'FLN', 'UUX', 'UBX', 'UUN', 'UBN', 'LKP', 'ADL', 'RML', 'FQY',
  'UUM', 'UBM', 'VAS', 'MSG', 'NOT', 'IPG', 'PAG', 'PGD', 'RNG', 'FND', 'SND', 'SDC', 'IMS', 'CAL',
  'ANS', 'IRO', 'JOI', 'BYE', 'ACK', 'NAK', 'SDG', 'PUT', 'DEL', 'NFY', 'GET', 'FSL',
])

export const isErrorVerb = (verb: string): boolean =>
  verb.length === 3 && verb.charCodeAt(0) >= 48 && verb.charCodeAt(0) <= 57 &&
  verb.charCodeAt(1) >= 48 && verb.charCodeAt(1) <= 57 && verb.charCodeAt(2) >= 48 && verb.charCodeAt(2) <= 57

const inRange = (r: Range, dialect: number | null): boolean =>
  dialect === null || (dialect >= r.min && (r.max === undefined || dialect <= r.max))

export const isDecimal = (s: string | undefined): boolean => {
  if (s === undefined || s.length === 0 || s.length > 15) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/**
 * Where the payload length is, for a tokenised command line: the index of the length token, or -1
 * for a command without payload (also when the verb carries a payload in other dialects than the
 * one given: then it is framed as a single line).
 */
export function payloadLengthIndex(tokens: readonly string[], from: Side, dialect: number | null): number {
  const n = tokens.length
  return lengthIndexOf(tokens[0] ?? '', n, from, dialect, isDecimal(tokens[n - 1]))
}

/**
 * payloadLengthIndex from what the rules read of a line of `n` tokens: whether its last token is
 * decimal. The decoder supplies it from the bytes, without making the strings.
 */
export function lengthIndexOf(verb: string, n: number, from: Side, dialect: number | null, lastDecimal: boolean): number {
  if (isErrorVerb(verb)) return n >= 3 && lastDecimal ? n - 1 : -1
  const entry = (from === 'client' ? CLIENT_PAYLOAD : SERVER_PAYLOAD).get(verb)
  if (entry === undefined || !inRange(entry.range, dialect)) return -1
  switch (entry.rule) {
    case 'always':
      return n >= 2 ? n - 1 : -1
    case 'unless-ok':
      // `CMD t OK` ends in OK, not in a length
      return n >= 3 && lastDecimal ? n - 1 : -1
    case 'if-numeric':
      return n >= (entry.minTokens ?? 2) && lastDecimal ? n - 1 : -1
  }
}

/** True when the verb carries a payload in this direction in any dialect. */
export const mayCarryPayload = (verb: string, from: Side): boolean =>
  (from === 'client' ? CLIENT_PAYLOAD : SERVER_PAYLOAD).has(verb)

/**
 * Whether token 1 is a TrID. Decided by verb and direction, never by "token 1 looks numeric"
 * alone (`RNG 11752099`, `NOT 312`, `QNG 45` have none). Unknown verbs fall back to that shape.
 */
export function hasTrId(tokens: readonly string[], from: Side, dialect: number | null): boolean {
  return trIdOf(tokens[0] ?? '', tokens.length, from, dialect, isDecimal(tokens[1]))
}

/** hasTrId from a line's verb, its number of tokens and whether token 1 is decimal. */
export function trIdOf(verb: string, n: number, from: Side, dialect: number | null, secondDecimal: boolean): boolean {
  if (n < 2) return false
  if (from === 'client') {
    if (CLIENT_NO_TRID.has(verb)) return false
  } else {
    if (SERVER_NO_TRID.has(verb)) return false
    if (SYN_FOLLOWUPS.has(verb)) {
      if (dialect !== null && dialect >= 8 && verb === 'LSG') return false
      // MSNP2-7 always number them; LSG in 8-9 starts with a numeric group id, so use its arity
      if (dialect === null && verb === 'LSG') return n >= 7 && secondDecimal
      return secondDecimal
    }
  }
  return secondDecimal
}
