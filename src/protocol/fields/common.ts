/**
 * Small helpers shared by the per-verb field decoders: URL-decoding of names, host:port and
 * account forms, list bits, status codes. Pure and allocation-light: they run for every command.
 */
import { isUtf8 } from 'node:buffer'
import type { CommandEvent, Fields } from '../events.js'
import { isDecimal } from '../verbs.js'

export { isDecimal }

/** A per-verb field decoder. Reads `cmd.args` (never the payload) and never throws. */
export type FieldDecoder = (cmd: CommandEvent) => Fields

/** Decimal token to number, or undefined (missing or not decimal). */
export const toInt = (s: string | undefined): number | undefined => (isDecimal(s) ? Number(s) : undefined)

/**
 * Undo the %XX escaping of a parameter (friendly names, group names, MSNObjects). Tokens without
 * '%' come back unchanged. Escapes that are not valid (bad hex, bytes that are not UTF-8) are kept
 * as written, so a third-party client's latin1 escapes stay visible instead of becoming U+FFFD.
 */
export function urlDecode(s: string): string {
  if (s.indexOf('%') < 0) return s
  // decodeURIComponent is the fast path; URIError is its documented answer to bad escapes
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

/**
 * An account token in any of its forms: `bob@example.net`, `1:bob@example.net` (MSNP18+ network
 * prefix) and `bob@example.net;{guid}` (MSNP16+ endpoint). Sets account, networkId, endpointGuid.
 * `key` renames the account field (caller, sender).
 */
export function addAccount(f: Fields, token: string | undefined, key = 'account'): void {
  if (token === undefined) return
  let a = token
  const semi = a.indexOf(';')
  if (semi >= 0) {
    f[key === 'account' ? 'endpointGuid' : `${key}EndpointGuid`] = a.slice(semi + 1)
    a = a.slice(0, semi)
  }
  const c0 = a.charCodeAt(0)
  if (c0 >= 48 && c0 <= 57) {
    const colon = a.indexOf(':')
    if (colon > 0 && colon <= 3 && isDecimal(a.slice(0, colon))) {
      addNetwork(f, a.slice(0, colon), key === 'account' ? 'networkId' : `${key}NetworkId`)
      a = a.slice(colon + 1)
    }
  }
  f[key] = a
}

/** Network ids from the address book (pidgin's MsnNetwork): 1 Messenger, 32 Yahoo!, … */
export const NETWORKS: ReadonlyMap<number, string> = new Map([
  [0, 'unknown'], [1, 'messenger'], [2, 'communicator'], [4, 'mobile'], [8, 'mni'], [9, 'circle'],
  [10, 'temporary group'], [11, 'cid'], [13, 'connect'], [14, 'remote'], [16, 'smtp'], [32, 'yahoo'],
])

export function addNetwork(f: Fields, token: string | undefined, key = 'networkId'): void {
  const id = toInt(token)
  if (id === undefined) return
  f[key] = id
  const name = NETWORKS.get(id)
  if (name !== undefined) f[key === 'networkId' ? 'networkName' : `${key.slice(0, -2)}Name`] = name
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
