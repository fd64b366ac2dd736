/**
 * Small helpers shared by the per-verb field decoders: URL-decoding of names, host:port and
 * account forms, list bits, status codes. Pure and allocation-light: they run for every command.
 */
import { isUtf8 } from 'node:buffer'
import type { CommandEvent, Fields } from '../events.js'

/** A per-verb field decoder. Reads `cmd.args` (never the payload) and never throws. */
export type FieldDecoder = (cmd: CommandEvent) => Fields

/**
 * The value of the decimal digits in s[start, end), or -1 when the range is empty, holds anything
 * else, or is longer than 15 digits. One pass, no slicing: it runs for most numeric arguments.
 */
export function parseDecimal(s: string, start = 0, end = s.length): number {
  const n = end - start
  if (n <= 0 || n > 15) return -1
  let v = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

/** A decimal token of at most 15 digits. */
export const isDecimal = (s: string | undefined): s is string => s !== undefined && parseDecimal(s) >= 0

/** Decimal token to number, or undefined (missing or not decimal). */
export function toInt(s: string | undefined): number | undefined {
  if (s === undefined) return undefined
  const v = parseDecimal(s)
  return v < 0 ? undefined : v
}

/**
 * Undo the %XX escaping of a parameter (friendly names, group names, MSNObjects). Tokens without
 * '%' come back unchanged. Escapes that are not valid (bad hex, bytes that are not UTF-8) are kept
 * as written, so a third-party client's latin1 escapes stay visible instead of becoming U+FFFD.
 */
export function urlDecode(s: string): string {
  let pct = s.indexOf('%')
  if (pct < 0) return s
  // the same names come back on every presence change and message: strings are immutable, so
  // a decoded one can be handed out again
  const hit = DECODED_NAMES.get(s)
  if (hit !== undefined) return hit
  const out = decodeEscapes(s, pct)
  if (s.length <= NAME_CACHE_TEXT) {
    if (DECODED_NAMES.size >= NAME_CACHE_ENTRIES) DECODED_NAMES.clear()
    DECODED_NAMES.set(s, out)
  }
  return out
}

/** Escaped tokens already decoded, bounded in entries and length; emptied when full. */
const DECODED_NAMES = new Map<string, string>()
const NAME_CACHE_ENTRIES = 4096
const NAME_CACHE_TEXT = 512

function decodeEscapes(s: string, pct: number): string {
  // names are mostly ASCII with %20 and friends: decode those here, hand anything else on
  let out = ''
  let from = 0
  while (pct >= 0) {
    const hi = hexVal(s.charCodeAt(pct + 1))
    const lo = hexVal(s.charCodeAt(pct + 2))
    if (hi < 0 || lo < 0 || hi >= 8) return fullDecode(s)
    out += s.slice(from, pct) + String.fromCharCode(hi * 16 + lo)
    from = pct + 3
    pct = s.indexOf('%', from)
  }
  return out + s.slice(from)
}

function fullDecode(s: string): string {
  // URIError is decodeURIComponent's documented answer to bad escapes and non-UTF-8 bytes
  try { return decodeURIComponent(s) } catch { return lenientDecode(s) }
}

const hexVal = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1

/** Byte length of a UTF-8 sequence from its lead byte, 0 when it cannot lead. */
const utf8Len = (b: number): number => (b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0)

function lenientDecode(s: string): string {
  let out = ''
  let i = 0
  while (i < s.length) {
    const pct = s.indexOf('%', i)
    if (pct < 0) { out += s.slice(i); break }
    out += s.slice(i, pct)
    // collect the run of well-formed %XX escapes starting here
    const bytes: number[] = []
    let j = pct
    while (j + 2 < s.length && s.charCodeAt(j) === 37) {
      const hi = hexVal(s.charCodeAt(j + 1)), lo = hexVal(s.charCodeAt(j + 2))
      if (hi < 0 || lo < 0) break
      bytes.push(hi * 16 + lo)
      j += 3
    }
    if (bytes.length === 0) { out += '%'; i = pct + 1; continue }
    out += decodeRun(bytes, s, pct)
    i = j
  }
  return out
}

/** Decode the bytes of one escape run; sequences that are not UTF-8 keep their `%XX` text. */
function decodeRun(bytes: number[], s: string, start: number): string {
  let out = ''
  let k = 0
  while (k < bytes.length) {
    const n = utf8Len(bytes[k]!)
    if (n > 0 && k + n <= bytes.length) {
      const seq = Buffer.from(bytes.slice(k, k + n))
      if (isUtf8(seq)) { out += seq.toString('utf8'); k += n; continue }
    }
    out += s.slice(start + 3 * k, start + 3 * k + 3)
    k++
  }
  return out
}

/** `192.0.2.77:1863` → host and port; no port means 1863; `[::1]:1863` is accepted too. */
export function addAddress(f: Fields, token: string | undefined): void {
  if (token === undefined) return
  f.address = token
  let host = token
  let portText: string | undefined
  if (token.charCodeAt(0) === 91 /* [ */) {
    const end = token.indexOf(']')
    if (end > 0) {
      host = token.slice(1, end)
      if (token.charCodeAt(end + 1) === 58) portText = token.slice(end + 2)
    }
  } else {
    const colon = token.lastIndexOf(':')
    if (colon >= 0) { host = token.slice(0, colon); portText = token.slice(colon + 1) }
  }
  f.host = host
  if (portText === undefined) f.port = 1863
  else {
    const port = toInt(portText)
    if (port !== undefined && port <= 65535) f.port = port
  }
}

/** The parts of an account token, as split by splitAccount (one shared object: no allocation). */
export interface AccountParts { account: string; endpointGuid: string | undefined; networkId: number }
const PARTS: AccountParts = { account: '', endpointGuid: undefined, networkId: -1 }

/**
 * Split an account token in any of its forms: `bob@example.net`, `1:bob@example.net` (MSNP18+
 * network prefix), `bob@example.net;{guid}` (MSNP16+ endpoint). networkId is -1 without prefix.
 * The result is overwritten by the next call.
 */
export function splitAccount(token: string): AccountParts {
  let start = 0
  let end = token.length
  PARTS.networkId = -1
  PARTS.endpointGuid = undefined
  const semi = token.indexOf(';')
  if (semi >= 0) { PARTS.endpointGuid = token.slice(semi + 1); end = semi }
  const c0 = token.charCodeAt(0)
  if (c0 >= 48 && c0 <= 57) {
    const colon = token.indexOf(':')
    if (colon > 0 && colon <= 3 && colon < end) {
      const id = parseDecimal(token, 0, colon)
      if (id >= 0) { PARTS.networkId = id; start = colon + 1 }
    }
  }
  PARTS.account = start === 0 && end === token.length ? token : token.slice(start, end)
  return PARTS
}

/** Sets account, and endpointGuid / networkId / networkName when the token carries them. */
export function addAccount(f: Fields, token: string | undefined): void {
  if (token === undefined) return
  const p = splitAccount(token)
  if (p.endpointGuid !== undefined) f.endpointGuid = p.endpointGuid
  if (p.networkId >= 0) {
    f.networkId = p.networkId
    const name = NETWORKS.get(p.networkId)
    if (name !== undefined) f.networkName = name
  }
  f.account = p.account
}

/** Field names for an account that is not the subject of the command (caller, recipient). */
export interface AccountKeys { account: string; endpointGuid: string; networkId: string; networkName: string }

export const accountKeys = (prefix: string): AccountKeys => ({
  account: prefix, endpointGuid: `${prefix}EndpointGuid`, networkId: `${prefix}NetworkId`, networkName: `${prefix}NetworkName`,
})

/** addAccount under other names (`caller`, `callerNetworkId`, …). */
export function addAccountAs(f: Fields, token: string | undefined, keys: AccountKeys): void {
  if (token === undefined) return
  const p = splitAccount(token)
  if (p.endpointGuid !== undefined) f[keys.endpointGuid] = p.endpointGuid
  if (p.networkId >= 0) addNetworkId(f, p.networkId, keys.networkId, keys.networkName)
  f[keys.account] = p.account
}

/** Network ids from the address book (pidgin's MsnNetwork): 1 Messenger, 32 Yahoo!, … */
export const NETWORKS: ReadonlyMap<number, string> = new Map([
  [0, 'unknown'], [1, 'messenger'], [2, 'communicator'], [4, 'mobile'], [8, 'mni'], [9, 'circle'],
  [10, 'temporary group'], [11, 'cid'], [13, 'connect'], [14, 'remote'], [16, 'smtp'], [32, 'yahoo'],
])

/** A network id token: sets networkId and networkName (or the given names). */
export function addNetwork(f: Fields, token: string | undefined, key = 'networkId', nameKey = 'networkName'): void {
  if (token === undefined) return
  const id = parseDecimal(token)
  if (id >= 0) addNetworkId(f, id, key, nameKey)
}

function addNetworkId(f: Fields, id: number, key: string, nameKey: string): void {
  f[key] = id
  const name = NETWORKS.get(id)
  if (name !== undefined) f[nameKey] = name
}

/** Presence status codes (CHG, ILN, NLN). */
export const STATUSES: ReadonlyMap<string, string> = new Map([
  ['NLN', 'online'], ['BSY', 'busy'], ['IDL', 'idle'], ['BRB', 'be right back'], ['AWY', 'away'],
  ['PHN', 'on the phone'], ['LUN', 'out to lunch'], ['HDN', 'appear offline'], ['FLN', 'offline'],
])

export function addStatus(f: Fields, token: string | undefined): void {
  if (token === undefined) return
  f.status = token
  const name = STATUSES.get(token)
  if (name !== undefined) f.statusName = name
}

/** List names by bit (LST list bits, ADL `l=`): FL 1, AL 2, BL 4, RL 8, PL 16. */
const LIST_BITS: ReadonlyArray<readonly [number, string]> = [[1, 'FL'], [2, 'AL'], [4, 'BL'], [8, 'RL'], [16, 'PL']]

export const LIST_NAMES: ReadonlyMap<string, string> = new Map([
  ['FL', 'forward list'], ['AL', 'allow list'], ['BL', 'block list'], ['RL', 'reverse list'], ['PL', 'pending list'],
])

export function listsFromBits(bits: number): string[] {
  const out: string[] = []
  for (const [bit, name] of LIST_BITS) if ((bits & bit) !== 0) out.push(name)
  return out
}

export const isListName = (s: string | undefined): boolean => s !== undefined && LIST_NAMES.has(s)

/** `3f6a2d1c-8b9e-4a7f-b5c4-d3e2f1a0b9c8`, with or without braces. */
export function isGuid(s: string | undefined): boolean {
  if (s === undefined) return false
  const o = s.length === 38 && s.charCodeAt(0) === 123 && s.charCodeAt(37) === 125 ? 1 : 0
  if (s.length !== 36 + 2 * o) return false
  return s.charCodeAt(8 + o) === 45 && s.charCodeAt(13 + o) === 45 && s.charCodeAt(18 + o) === 45 && s.charCodeAt(23 + o) === 45
}

/** Comma-separated group ids or GUIDs. */
export const splitGroups = (token: string): string[] => token.split(',')

/** Set `key` to the URL-decoded token when present. */
export function addName(f: Fields, token: string | undefined, key = 'displayName'): void {
  if (token !== undefined) f[key] = urlDecode(token)
}

/** `0`/`1` flags as booleans; anything else is left out. */
export function addFlag(f: Fields, token: string | undefined, key: string): void {
  if (token === '1') f[key] = true
  else if (token === '0') f[key] = false
}
