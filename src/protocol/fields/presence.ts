/**
 * Presence and personal status (CHG ILN NLN FLN UUX UBX), unified notifications (UUN UBN) and the
 * MSNP14+ interop line commands (UUM UBM VAS). Capabilities come from ../capabilities.ts; the
 * MSNObject in CHG/ILN/NLN is URL-decoded and, when it is a plain `<msnobj …/>`, split into its
 * attributes.
 */
import { addCapabilities } from '../capabilities.js'
import type { CommandEvent, Fields } from '../events.js'
import { accountKeys, addAccount, addAccountAs, addName, addNetwork, addStatus, isDecimal, toInt, urlDecode, type FieldDecoder } from './common.js'

/** MSNObject types (messages.md section 7). */
export const MSNOBJECT_TYPES: ReadonlyMap<number, string> = new Map([
  [2, 'custom emoticon'], [3, 'display picture'], [5, 'background'], [8, 'wink'], [11, 'voice clip'],
])

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

const unescapeXml = (s: string): string =>
  s.indexOf('&') < 0 ? s : s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ENTITIES[e] ?? _m)

/** Attributes of `<msnobj A="x" B="y"/>`, or undefined when the string is not that simple shape. */
export function msnObjectAttributes(xml: string): Record<string, string> | undefined {
  if (!xml.startsWith('<msnobj')) return undefined
  const attrs: Record<string, string> = {}
  let i = 7
  const n = xml.length
  for (;;) {
    while (i < n && (xml.charCodeAt(i) === 32 || xml.charCodeAt(i) === 9)) i++
    if (i >= n) return undefined
    const c = xml.charCodeAt(i)
    if (c === 47 /* / */ || c === 62 /* > */) return attrs
    const eq = xml.indexOf('=', i)
    if (eq < 0) return undefined
    const name = xml.slice(i, eq).trim()
    const q = xml.charCodeAt(eq + 1)
    if (q !== 34 && q !== 39) return undefined
    const end = xml.indexOf(q === 34 ? '"' : "'", eq + 2)
    if (end < 0 || name.length === 0) return undefined
    attrs[name] = unescapeXml(xml.slice(eq + 2, end))
    i = end + 1
  }
}

/** `Friendly` is base64 of a UTF-16LE name with its terminating NUL (`AAA=` = empty). */
function friendlyText(b64: string): string {
  let s = Buffer.from(b64, 'base64').toString('utf16le')
  while (s.endsWith('\u0000')) s = s.slice(0, -1)
  return s
}

interface DecodedMsnObject { xml: string; info: Readonly<Fields> | undefined }

/**
 * A contact's MSNObject comes back in every ILN/NLN it causes, so decoded objects are kept by
 * their encoded token (bounded; the info objects are frozen because events share them).
 */
const msnObjects = new Map<string, DecodedMsnObject>()
const MSNOBJECT_CACHE_MAX = 256

function decodeMsnObject(token: string): DecodedMsnObject {
  const xml = urlDecode(token)
  const attrs = msnObjectAttributes(xml)
  if (attrs === undefined) return { xml, info: undefined }
  const info: Fields = {}
  if (attrs.Creator !== undefined) info.creator = attrs.Creator
  const size = toInt(attrs.Size)
  if (size !== undefined) info.size = size
  const type = toInt(attrs.Type)
  if (type !== undefined) {
    info.type = type
    const name = MSNOBJECT_TYPES.get(type)
    if (name !== undefined) info.typeName = name
  }
  if (attrs.Location !== undefined) info.location = attrs.Location
  if (attrs.Friendly !== undefined) {
    info.friendly = attrs.Friendly
    info.friendlyName = friendlyText(attrs.Friendly)
  }
  if (attrs.SHA1D !== undefined) info.sha1d = attrs.SHA1D
  if (attrs.SHA1C !== undefined) info.sha1c = attrs.SHA1C
  return { xml, info: Object.freeze(info) }
}

/** Sets msnObject (the decoded XML) and, for a simple `<msnobj …/>`, msnObjectInfo; `0` means none. */
export function addMsnObject(f: Fields, token: string | undefined): void {
  if (token === undefined || token === '0') return
  let d = msnObjects.get(token)
  if (d === undefined) {
    d = decodeMsnObject(token)
    if (msnObjects.size >= MSNOBJECT_CACHE_MAX) msnObjects.clear()
    msnObjects.set(token, d)
  }
  f.msnObject = d.xml
  if (d.info !== undefined) f.msnObjectInfo = d.info
}

// CHG 13 NLN | CHG 13 NLN 268435492 (8) | CHG 13 NLN 1342177280 <msnobj|0> (9+) | CHG 13 NLN 2789003324:48 0 (16/18+)
function chg(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addStatus(f, a[0])
  addCapabilities(f, a[1])
  addMsnObject(f, a[2])
  if (cmd.from === 'server' && cmd.trId === 0) f.unsolicited = true
  return f
}

/*
 * Arguments from the status on, shared by ILN (after its TrID) and NLN:
 *   2-7   <status> <account> <name>
 *   8-13  … <caps> [<msnobj>]
 *   14-17 <status> <account> <network-id> <name> <caps> <msnobj> [<icon-url>]
 *   18+   <status> <network-id>:<account> <name> <caps:extcaps> [<msnobj>]
 */
function presence(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addStatus(f, a[0])
  addAccount(f, a[1])
  let i = 2
  if (f.networkId === undefined && isDecimal(a[2])) {
    const d = cmd.dialect
    // the 14-17 layout; with the dialect unknown its length (an msnobj slot always follows caps) decides
    const layout14 = d !== null && d >= 14 && d < 18 ? true : a.length >= 6
    if (layout14) { addNetwork(f, a[2]); i = 3 }
  }
  addName(f, a[i])
  addCapabilities(f, a[i + 1])
  addMsnObject(f, a[i + 2])
  if (a[i + 3] !== undefined) f.iconUrl = urlDecode(a[i + 3]!)
  return f
}

// FLN bob@example.net (2-13) | FLN bob@example.net 1 [<caps>] (14-17) | FLN 1:carol@example.org [<caps>] (18+)
function fln(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  let i = 1
  if (f.networkId === undefined && isDecimal(a[1])) { addNetwork(f, a[1]); i = 2 }
  addCapabilities(f, a[i])
  return f
}

// UBX bob@example.net <len> (11-13) | UBX bob@example.net 1 <len> (14-17) | UBX 1:bob@example.net <len> (18+)
function ubx(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  if (f.networkId === undefined) addNetwork(f, a[1])
  return f
}

/** Unified notification types (UUN/UBN), per papyon and pidgin. */
export const UUN_TYPES: ReadonlyMap<number, string> = new Map([
  [1, 'shared folders'], [2, 'SIP invite'], [3, 'P2P data'], [4, 'MPOP'], [6, 'resynchronise'],
  [11, 'SIP progress'], [12, 'tunnelled SIP'],
])

function addType(f: Fields, token: string | undefined, names: ReadonlyMap<number, string>): void {
  const t = toInt(token)
  if (t === undefined) return
  f.type = t
  const name = names.get(t)
  if (name !== undefined) f.typeName = name
}

// C: UUN 30 bob@example.net 6 <len>   S: UUN 30 OK     S: UBN bob@example.net 6 <len>
function uun(cmd: CommandEvent): Fields {
  const a = cmd.args
  if (a[0] === 'OK') return { ok: true }
  const f: Fields = {}
  addAccount(f, a[0])
  addType(f, a[1], UUN_TYPES)
  return f
}

const UUM_TYPES: ReadonlyMap<number, string> = new Map([[1, 'text']])

// C: UUM 33 bob@yahoo.example 32 1 <len>   S: UUM 33 OK
function uum(cmd: CommandEvent): Fields {
  const a = cmd.args
  if (a[0] === 'OK') return { ok: true }
  const f: Fields = {}
  addAccount(f, a[0])
  addNetwork(f, a[1])
  addType(f, a[2], UUM_TYPES)
  return f
}

const TO = accountKeys('to')

// S: UBM bob@yahoo.example 32 alice@example.com 1 1 <len>  (layout unconfirmed: from, net, to, net, type)
function ubm(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  addNetwork(f, a[1])
  addAccountAs(f, a[2], TO)
  addNetwork(f, a[3], TO.networkId, TO.networkName)
  addType(f, a[4], UUM_TYPES)
  return f
}

// C: VAS 34 spammer@example.net 1 0 <len>   S: VAS 34
function vas(cmd: CommandEvent): Fields {
  if (cmd.from === 'server') return { accepted: true }
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  addNetwork(f, a[1])
  return f
}

export const PRESENCE_FIELDS: ReadonlyArray<readonly [string, FieldDecoder]> = [
  ['CHG', chg], ['ILN', presence], ['NLN', presence], ['FLN', fln], ['UUX', () => ({})], ['UBX', ubx],
  ['UUN', uun], ['UBN', uun], ['UUM', uum], ['UBM', ubm], ['VAS', vas],
]
