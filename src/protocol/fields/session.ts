/**
 * Session setup, authentication, referrals, keep-alive and challenges: VER CVR CVQ INF USR XFR
 * OUT GCF SBS URL PNG QNG CHL QRY (commands.md sections 1-2, redirects.md).
 */
import type { CommandEvent, Fields } from '../events.js'
import { addAccount, addAddress, addFlag, addName, isDecimal, toInt, urlDecode, type FieldDecoder } from './common.js'

const dialectNumber = (token: string): number | undefined => {
  if (token.length < 5 || token.length > 7) return undefined
  if (token.slice(0, 4).toUpperCase() !== 'MSNP') return undefined
  return toInt(token.slice(4))
}

// C: VER 1 MSNP12 MSNP11 CVR0    S: VER 1 MSNP12 | VER 1 0
function ver(cmd: CommandEvent): Fields {
  const f: Fields = {}
  const a = cmd.args
  const dialects: string[] = []
  const versions: number[] = []
  let start = 0
  if (cmd.from === 'server') {
    if (a[0] === '0') { f.noCommonDialect = true; start = 1 } else if (a[0] !== undefined) {
      f.chosen = a[0]
      const n = dialectNumber(a[0])
      if (n !== undefined) f.chosenVersion = n
      start = 1
    }
  }
  for (let i = start; i < a.length; i++) {
    const t = a[i]!
    if (t.toUpperCase() === 'CVR0') { f.cvr0 = true; continue }
    dialects.push(t)
    const n = dialectNumber(t)
    if (n !== undefined) versions.push(n)
  }
  if (cmd.from === 'client' || dialects.length > 0) {
    f.offered = dialects
    f.offeredVersions = versions
  }
  if (f.cvr0 === undefined && cmd.from === 'client') f.cvr0 = false
  return f
}

// C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs alice@example.com
// S: CVR 2 7.5.0324 7.5.0324 7.0.0777 http://download.example/ http://info.example/
function cvr(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'client') {
    const keys = ['locale', 'os', 'osVersion', 'arch', 'clientName', 'clientVersion', 'clientId', 'account']
    for (let i = 0; i < keys.length && i < a.length; i++) f[keys[i]!] = a[i]
    const lcid = a[0]
    if (lcid !== undefined && (lcid.startsWith('0x') || lcid.startsWith('0X'))) {
      const n = Number.parseInt(lcid.slice(2), 16)
      if (Number.isFinite(n)) f.localeId = n
    }
  } else {
    if (a[0] !== undefined) f.recommended = a[0]
    if (a[2] !== undefined) f.minimum = a[2]
    if (a[3] !== undefined) f.downloadUrl = a[3]
    if (a[4] !== undefined) f.infoUrl = a[4]
  }
  return f
}

// S: INF 2 MD5  (comma-separated list of security packages in the draft)
function inf(cmd: CommandEvent): Fields {
  const p = cmd.args[0]
  return cmd.from === 'server' && p !== undefined ? { packages: p.split(',') } : {}
}

const SCHEMES = new Set(['MD5', 'TWN', 'SSO', 'SHA', 'CTP'])

/** `lc=1033,id=507,ru=http%3A%2F%2F…` → { lc: '1033', id: '507', ru: 'http://…' } */
function passportParams(s: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of s.split(',')) {
    const eq = part.indexOf('=')
    if (eq > 0) out[part.slice(0, eq)] = urlDecode(part.slice(eq + 1))
  }
  return out
}

/*
 * NS: USR t MD5|TWN|SSO I <account>            S: USR t MD5 S <salt> | TWN S <passport params> | SSO S <policy> <nonce>
 *     USR t MD5 S <hash> | TWN S <ticket> | SSO S <ticket> <mbi> [<guid>] | SHA A <ticket>
 *     S: USR t OK <account> <name> [<verified>] (2-7) | <account> <name> <verified> <restricted> (8-9)
 *        | <account> <verified> <restricted> (10+)
 * SB: USR t <account>[;{guid}] <cookie>        S: USR t OK <account>[;{guid}] <name>
 */
function usr(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  const first = a[0]
  if (first === undefined) return f
  if (first === 'OK') {
    f.stage = 'OK'
    addAccount(f, a[1])
    usrOk(f, a, cmd.dialect)
    return f
  }
  if (!SCHEMES.has(first)) {
    // switchboard caller: the first command on the connection
    if (cmd.from === 'client') {
      f.switchboard = true
      addAccount(f, first)
      if (a[1] !== undefined) f.cookie = a[1]
    }
    return f
  }
  f.scheme = first
  const stage = a[1]
  if (stage === undefined) return f
  f.stage = stage
  if (stage === 'I') { addAccount(f, a[2]); return f }
  const p = a[2]
  if (cmd.from === 'server') {
    if (stage !== 'S' || p === undefined) return f
    if (first === 'MD5') f.salt = p
    else if (first === 'TWN') { f.challenge = p; f.passportParams = passportParams(p) }
    else if (first === 'SSO') { f.policy = p; if (a[3] !== undefined) f.nonce = a[3] }
    else f.challenge = p
    return f
  }
  if (p === undefined) return f
  if (first === 'MD5') f.response = p
  else {
    f.ticket = p
    if (first === 'SSO') {
      if (a[3] !== undefined) f.mbiResponse = a[3]
      if (a[4] !== undefined) f.machineGuid = a[4]
    }
  }
  return f
}

const isFlag = (s: string | undefined): boolean => s === '0' || s === '1'

function usrOk(f: Fields, a: readonly string[], dialect: number | null): void {
  // after OK and the account: a friendly name (2-9, switchboard), then verified/restricted flags
  const rest = a.length - 2
  if (rest <= 0) return
  let flagsAt: number
  if (rest === 1) {
    addName(f, a[2], 'friendlyName')
    return
  }
  if (dialect !== null) flagsAt = dialect >= 10 ? 2 : 3
  else flagsAt = rest === 2 && isFlag(a[2]) && isFlag(a[3]) ? 2 : 3
  if (flagsAt === 3) addName(f, a[2], 'friendlyName')
  addFlag(f, a[flagsAt], 'verified')
  addFlag(f, a[flagsAt + 1], 'restricted')
}

/** XFR SB / RNG tail: `<host:port> CKI <cookie> [U <domain>] [<direct 0/1>]` starting at `i`. */
export function addSwitchboardReferral(f: Fields, a: readonly string[], i: number): void {
  addAddress(f, a[i])
  if (a[i + 1] !== undefined) f.authScheme = a[i + 1]
  if (a[i + 2] !== undefined) f.cookie = a[i + 2]
}

/** What may follow the caller on RNG or the cookie on XFR SB: `U <domain>` (13+), direct flag (14+). */
export function addReferralTail(f: Fields, a: readonly string[], i: number): void {
  if (a[i] === 'U') {
    if (a[i + 1] !== undefined) f.domain = a[i + 1]
    i += 2
  }
  addFlag(f, a[i], 'directConnect')
}

// C: XFR 12 SB   S: XFR 3 NS 192.0.2.41:1863 0 192.0.2.10:1863 | XFR 3 NS host:port U D
//                S: XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345 [U messenger.msn.com 1]
function xfr(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (a[0] !== undefined) f.kind = a[0]
  if (cmd.from === 'client' || a.length < 2) return f
  if (a[0] === 'SB') {
    addSwitchboardReferral(f, a, 1)
    addReferralTail(f, a, 4)
    return f
  }
  if (a[1] === '0') f.sameServer = true
  else addAddress(f, a[1])
  const flags: string[] = []
  for (let i = 2; i < a.length; i++) {
    const t = a[i]!
    if (t.indexOf(':') > 0 || (t.indexOf('.') > 0 && !isDecimal(t))) f.currentServer = t
    else flags.push(t)
  }
  if (flags.length > 0) f.flags = flags
  return f
}

/** Server OUT reasons. */
export const OUT_REASONS: ReadonlyMap<string, string> = new Map([
  ['OTH', 'signed in from another location'],
  ['SSD', 'server shutting down'],
  ['MIG', 'account moved to another server'],
  ['TOU', 'terms of use must be accepted'],
  ['RCT', 'reconnect later'],
])

// S: OUT OTH | OUT RCT 5
function out(cmd: CommandEvent): Fields {
  const r = cmd.args[0]
  if (r === undefined) return {}
  const f: Fields = { reason: r }
  const m = OUT_REASONS.get(r)
  if (m !== undefined) f.reasonMeaning = m
  const minutes = toInt(cmd.args[1])
  if (minutes !== undefined) f.minutes = minutes
  return f
}

// C: GCF 7 Shields.xml   S: GCF 7 Shields.xml <len> (11-12) | GCF 0 <len> (13+)
function gcf(cmd: CommandEvent): Fields {
  const f: Fields = {}
  if (cmd.args[0] !== undefined) f.file = cmd.args[0]
  if (cmd.from === 'server' && cmd.trId === 0) f.unsolicited = true
  return f
}

// S: SBS 0 null
function sbs(cmd: CommandEvent): Fields {
  return cmd.args[0] === undefined ? {} : { value: cmd.args[0] }
}

// C: URL 14 INBOX | URL 14 COMPOSE bob@example.net   S: URL 14 /cgi-bin/HoTMaiL https://login.example/… 2
function url(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'client') {
    if (a[0] !== undefined) f.service = a[0]
    if (a[1] !== undefined) f.param = a[1]
  } else {
    if (a[0] !== undefined) f.url = a[0]
    if (a[1] !== undefined) f.loginUrl = a[1]
    const site = toInt(a[2])
    if (site !== undefined) f.siteId = site
  }
  return f
}

// S: QNG 45 (MSNP9+; bare QNG before)
function qng(cmd: CommandEvent): Fields {
  const s = toInt(cmd.args[0])
  return s === undefined ? {} : { seconds: s }
}

// S: CHL 0 22210219642164014968
function chl(cmd: CommandEvent): Fields {
  const c = cmd.args[0]
  return c === undefined ? {} : { challenge: c }
}

// C: QRY 11 PROD0090YUAUV{2B 32   S: QRY 11
function qry(cmd: CommandEvent): Fields {
  if (cmd.from === 'server') return { accepted: true }
  const p = cmd.args[0]
  return p === undefined ? {} : { productId: p }
}

const none = (): Fields => ({})

export const SESSION_FIELDS: ReadonlyArray<readonly [string, FieldDecoder]> = [
  ['VER', ver], ['CVR', cvr], ['CVQ', cvr], ['INF', inf], ['USR', usr], ['XFR', xfr], ['OUT', out],
  ['GCF', gcf], ['SBS', sbs], ['URL', url], ['PNG', none], ['QNG', qng], ['CHL', chl], ['QRY', qry],
]
