/**
 * How a live command differs from the recorded one: verb, arguments, payload. Values that a
 * server chooses afresh for every session (cookies, session ids, referral addresses, salts,
 * challenges, nonces, login times) are not differences. Pure.
 */
import type { CommandEvent } from '../protocol/events.js'

export interface CommandDifference {
  what: 'verb' | 'trId' | 'args' | 'payload'
  detail: string
}

const ADDR = /^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d+$/

/** Argument positions (after the TrID) whose value is chosen per session. */
function volatileArgs(cmd: CommandEvent): Set<number> {
  const a = cmd.args
  const out = new Set<number>()
  switch (cmd.verb) {
    case 'XFR':
      if (a[0] === 'NS') { out.add(1); if (a[3] !== undefined && ADDR.test(a[3])) out.add(3) }
      if (a[0] === 'SB') { out.add(1); out.add(3) }
      break
    case 'RNG': out.add(0); out.add(1); out.add(3); break
    case 'CAL': if (a[0] === 'RINGING') out.add(1); break
    case 'USR':
      // S: USR t MD5 S <salt> | TWN S <params> | SSO S <policy> <nonce>
      if (a[1] === 'S') for (let i = 2; i < a.length; i++) out.add(i)
      break
    case 'CHL': out.add(0); break
    default: break
  }
  return out
}

/** MIME headers whose value changes with every sign-in (login profile, mail notifications). */
const VOLATILE_HEADERS = new Set(['logintime', 'clientip', 'clientport', 'mspauth', 'mspprof', 'sid', 'kv', 'memberidhigh', 'memberidlow', 'lang_preference', 'nickname', 'rru', 'id', 'mspcid', 'inboxunread', 'folders'])

function splitMime(payload: Buffer): { headers: Map<string, string>; body: Buffer } | null {
  const end = payload.indexOf('\r\n\r\n')
  if (end < 0) return null
  const head = payload.subarray(0, end).toString('latin1')
  const headers = new Map<string, string>()
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':')
    if (i <= 0) return null
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim())
  }
  return { headers, body: payload.subarray(end + 4) }
}

const isProfile = (h: Map<string, string>): boolean => /x-msmsgs(profile|initialemailnotification|initialmdatanotification)/i.test(h.get('content-type') ?? '')

function comparePayload(expected: Buffer, actual: Buffer): string | null {
  if (expected.equals(actual)) return null
  const e = splitMime(expected)
  const a = splitMime(actual)
  if (e !== null && a !== null) {
    const profile = isProfile(e.headers)
    const changed: string[] = []
    for (const [k, v] of e.headers) {
      if (profile && VOLATILE_HEADERS.has(k)) continue
      const w = a.headers.get(k)
      if (w === undefined) changed.push(`header ${k} missing`)
      else if (w !== v) changed.push(`header ${k}: "${clip(v)}" → "${clip(w)}"`)
    }
    for (const k of a.headers.keys()) if (!e.headers.has(k) && !(profile && VOLATILE_HEADERS.has(k))) changed.push(`header ${k} added`)
    if (!e.body.equals(a.body) && !profile) changed.push(bodyDiff(e.body, a.body))
    return changed.length === 0 ? null : changed.join('; ')
  }
  return bodyDiff(expected, actual)
}

function bodyDiff(e: Buffer, a: Buffer): string {
  let i = 0
  while (i < e.length && i < a.length && e.readUInt8(i) === a.readUInt8(i)) i++
  return `${e.length === a.length ? `${e.length} bytes` : `${e.length} → ${a.length} bytes`}, first difference at byte ${i}`
}

const clip = (s: string): string => (s.length > 60 ? `${s.slice(0, 57)}...` : s)

/**
 * Differences between the recorded command and the live one. `expectedTrId` is the TrID the
 * live command should carry (the recorded one, renumbered).
 */
export function compareCommands(expected: CommandEvent, actual: CommandEvent, expectedTrId: number | null = expected.trId): CommandDifference[] {
  const out: CommandDifference[] = []
  if (expected.verb !== actual.verb) {
    out.push({ what: 'verb', detail: `${actual.verb} instead of ${expected.verb}` })
    return out
  }
  if (expectedTrId !== actual.trId) out.push({ what: 'trId', detail: `TrID ${String(actual.trId)} instead of ${String(expectedTrId)}` })
  const skip = volatileArgs(expected)
  const ea = expected.args
  const aa = actual.args
  const changed: string[] = []
  for (let i = 0; i < Math.max(ea.length, aa.length); i++) {
    if (skip.has(i)) continue
    const x = ea[i]
    const y = aa[i]
    if (x === y) continue
    if (x === undefined) changed.push(`extra argument ${i + 1} "${clip(y!)}"`)
    else if (y === undefined) changed.push(`argument ${i + 1} "${clip(x)}" missing`)
    else changed.push(`argument ${i + 1}: "${clip(x)}" → "${clip(y)}"`)
  }
  if (changed.length > 0) out.push({ what: 'args', detail: changed.join('; ') })
  const ep = expected.payloadRaw
  const ap = actual.payloadRaw
  if (ep === null && ap !== null) out.push({ what: 'payload', detail: `a payload of ${ap.length} bytes where none was recorded` })
  else if (ep !== null && ap === null) out.push({ what: 'payload', detail: `no payload where ${ep.length} bytes were recorded` })
  else if (ep !== null && ap !== null) {
    const d = comparePayload(ep, ap)
    if (d !== null) out.push({ what: 'payload', detail: d })
  }
  return out
}

/** True for numeric error replies (`911 7`). */
export const isErrorVerb = (verb: string): boolean => /^\d{3}$/.test(verb)
