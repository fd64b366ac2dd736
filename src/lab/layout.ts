/**
 * Per-dialect argument layouts of the lines whose shape changed between MSNP2 and MSNP18
 * (commands.md, redirects.md). Each function returns the tokens after the verb and the TrID;
 * the lab's server writes them and its clients read them back with the parsers at the end.
 */

export type Status = 'NLN' | 'BSY' | 'IDL' | 'BRB' | 'AWY' | 'PHN' | 'LUN' | 'HDN' | 'FLN'

/** Statuses a client may set with CHG (FLN is refused with 201). */
export const SETTABLE_STATUSES: ReadonlySet<string> = new Set(['NLN', 'BSY', 'IDL', 'BRB', 'AWY', 'PHN', 'LUN', 'HDN'])

/** Visible to contacts: signed in and not appearing offline. */
export const isOnlineStatus = (s: string): boolean => s !== 'FLN' && s !== 'HDN'

// S: XFR 3 NS 192.0.2.41:1863 0 192.0.2.10:1863   (MSNP7-12)
export function xfrNsArgs(dialect: number, target: string, current: string): string[] {
  if (dialect <= 2) return ['NS', target]
  if (dialect <= 6) return ['NS', target, '0']
  if (dialect <= 12) return ['NS', target, '0', current]
  return ['NS', target, 'U', 'D']
}

// S: XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345 [U messenger.msn.com] [1]
export function xfrSbArgs(dialect: number, addr: string, cookie: string): string[] {
  const out = ['SB', addr, 'CKI', cookie]
  if (dialect >= 13) out.push('U', 'messenger.msn.com')
  if (dialect >= 14) out.push('1')
  return out
}

// S: RNG 11752099 192.0.2.77:1863 CKI 849102291.520491113.5811 alice@example.com Alice%20A. [U messenger.hotmail.com] [1]
export function rngArgs(dialect: number, sid: string, addr: string, cookie: string, caller: string, callerName: string): string[] {
  const out = [sid, addr, 'CKI', cookie, caller, callerName]
  if (dialect >= 13) out.push('U', 'messenger.hotmail.com')
  if (dialect >= 14) out.push('1')
  return out
}

// S: USR 7 OK alice@example.com Alice%20A. 1 0   (MSNP8-9)
export function usrOkArgs(dialect: number, account: string, name: string): string[] {
  if (dialect <= 5) return ['OK', account, name]
  if (dialect <= 7) return ['OK', account, name, '1']
  if (dialect <= 9) return ['OK', account, name, '1', '0']
  return ['OK', account, '1', '0']
}

/** What a contact's presence line says about it (wire forms: URL-encoded name and MSNObject). */
export interface PresenceLine {
  status: string
  account: string
  name: string
  /** client capabilities, `caps` or `caps:extcaps` */
  caps: string
  /** URL-encoded MSNObject, or '0' */
  msnobj: string
}

/** Capabilities as a dialect writes them: a plain number before MSNP16, `caps:extcaps` from it. */
export function capsFor(dialect: number, caps: string): string {
  const colon = caps.indexOf(':')
  if (dialect < 16) return colon < 0 ? caps : caps.slice(0, colon)
  return colon < 0 ? `${caps}:0` : caps
}

// S: ILN 9 NLN bob@example.net Bob 1342177316 %3Cmsnobj...   (MSNP9-13; NLN has the same tail)
// S: NLN NLN 1:bob@example.net Bob 2789003324:48 %3Cmsnobj...  (MSNP18)
export function presenceArgs(dialect: number, p: PresenceLine): string[] {
  const caps = capsFor(dialect, p.caps)
  if (dialect <= 7) return [p.status, p.account, p.name]
  if (dialect === 8) return [p.status, p.account, p.name, caps]
  if (dialect <= 13) return [p.status, p.account, p.name, caps, p.msnobj]
  if (dialect <= 17) return [p.status, p.account, '1', p.name, caps, p.msnobj]
  return [p.status, `1:${p.account}`, p.name, caps, p.msnobj]
}

/** MSNP18 announces initial presence with NLN instead of ILN. */
export const initialPresenceVerb = (dialect: number): 'ILN' | 'NLN' => dialect >= 18 ? 'NLN' : 'ILN'

// S: FLN bob@example.net | FLN bob@example.net 1 | FLN 1:bob@example.net
export function flnArgs(dialect: number, account: string): string[] {
  if (dialect <= 13) return [account]
  if (dialect <= 17) return [account, '1']
  return [`1:${account}`]
}

// S: UBX bob@example.net 61 | UBX bob@example.net 1 61 | UBX 1:bob@example.net 61
export function ubxArgs(dialect: number, account: string): string[] {
  if (dialect <= 13) return [account]
  if (dialect <= 17) return [account, '1']
  return [`1:${account}`]
}

// S: IRO 1 1 1 alice@example.com Alice%20A. 1342177280   (caps from MSNP12)
export function iroArgs(dialect: number, index: number, total: number, account: string, name: string, caps: string): string[] {
  const out = [String(index), String(total), account, name]
  if (dialect >= 12) out.push(capsFor(dialect, caps))
  return out
}

// S: JOI bob@example.net Bob 1342177316   (caps from MSNP12)
export function joiArgs(dialect: number, account: string, name: string, caps: string): string[] {
  return dialect >= 12 ? [account, name, capsFor(dialect, caps)] : [account, name]
}

/** `1:bob@example.net` -> `bob@example.net`. */
export const stripNetworkId = (token: string): string => /^\d+:/.test(token) ? token.slice(token.indexOf(':') + 1) : token

/** Reads an ILN (args after the TrID) or NLN line in any dialect. */
export function parsePresence(dialect: number, args: readonly string[]): PresenceLine | null {
  const at = (i: number): string => args[i] ?? ''
  if (args.length < 3) return null
  if (dialect >= 18 || /^\d+:/.test(at(1))) {
    return { status: at(0), account: stripNetworkId(at(1)), name: at(2), caps: at(3) || '0', msnobj: at(4) || '0' }
  }
  if (dialect >= 14 && args.length >= 4 && /^\d+$/.test(at(2))) {
    return { status: at(0), account: at(1), name: at(3), caps: at(4) || '0', msnobj: at(5) || '0' }
  }
  return { status: at(0), account: at(1), name: at(2), caps: at(3) || '0', msnobj: at(4) || '0' }
}
