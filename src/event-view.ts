/**
 * A uniform, read-only view of what an event carries, for the things that display or match
 * events (console lines, the dashboard, the filter language, rules). It prefers the decoded
 * payload the protocol layer attached and falls back to reading the payload bytes itself, so a
 * payload the decoders do not (yet) understand still shows its content type, headers and text.
 *
 * Pure: no I/O, never throws on wire bytes. Views are cached per command (WeakMap), so matching
 * and drawing the same event twice parses it once.
 */
import type { ScopeEvent } from './events.js'
import type { CommandEvent } from './protocol/events.js'

/** The 48-byte P2P (MSNC) version 1 binary header, all fields little-endian; footer big-endian. */
export interface P2pHeaderView {
  version: 1 | 2
  sessionId: number
  identifier: number
  offset: number
  totalSize: number
  messageLength: number
  flags: number
  ackIdentifier: number
  ackUniqueId: number
  ackDataSize: number
  /** AppID from the 4-byte footer, when present */
  footer: number | null
}

/** The MSNSLP message inside a P2P body: a request (`INVITE`, `BYE`) or a status (`200 OK`). */
export interface SlpView {
  startLine: string
  /** `INVITE`, `BYE`, `ACK`, or the status text (`200 OK`, `603 Decline`) for responses */
  method: string
  headers: Array<[string, string]>
  contentType: string | null
  /** body fields (`EUF-GUID`, `SessionID`, `AppID`, `Context`) */
  fields: Array<[string, string]>
}

export interface PayloadView {
  contentType: string | null
  headers: Array<[string, string]>
  /** bytes after the header block (or the whole payload when it has no MIME headers) */
  body: Buffer | null
  /** the body as text, for textual content types */
  text: string | null
  p2p: P2pHeaderView | null
  slp: SlpView | null
  /** a file name offered in a transfer (MSNSLP file INVITE context, or legacy invitation) */
  fileName: string | null
}

export const P2P_CONTENT_TYPE = 'application/x-msnmsgrp2p'
const FILE_TRANSFER_GUID = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}'
const EMPTY_VIEW: PayloadView = { contentType: null, headers: [], body: null, text: null, p2p: null, slp: null, fileName: null }

const cache = new WeakMap<CommandEvent, PayloadView>()

/** The payload of a command event, read once and cached. */
export function payloadView(cmd: CommandEvent): PayloadView {
  let view = cache.get(cmd)
  if (view === undefined) {
    view = buildView(cmd)
    cache.set(cmd, view)
  }
  return view
}

/** The payload view of any event (an empty view for events without a command payload). */
export function eventPayload(ev: ScopeEvent): PayloadView {
  return ev.kind === 'command' && ev.command.payloadRaw !== null ? payloadView(ev.command) : EMPTY_VIEW
}

/** Header lookup, case-insensitive. */
export function header(headers: ReadonlyArray<readonly [string, string]>, name: string): string | null {
  const lower = name.toLowerCase()
  for (const [k, v] of headers) if (k.toLowerCase() === lower) return v
  return null
}

/** `text/plain; charset=UTF-8` → `text/plain` */
export function bareContentType(ct: string | null): string | null {
  if (ct === null) return null
  const semi = ct.indexOf(';')
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase()
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v)
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

function headerPairs(v: unknown): Array<[string, string]> | null {
  if (Array.isArray(v)) {
    const out: Array<[string, string]> = []
    for (const item of v) {
      if (Array.isArray(item) && typeof item[0] === 'string') out.push([item[0], String(item[1] ?? '')])
      else if (isObject(item) && typeof item.name === 'string') out.push([item.name, String(item.value ?? '')])
    }
    return out
  }
  if (isObject(v)) return Object.entries(v).map(([k, val]) => [k, Array.isArray(val) ? val.join(', ') : String(val)])
  return null
}

function buildView(cmd: CommandEvent): PayloadView {
  const raw = cmd.payloadRaw
  if (raw === null) return EMPTY_VIEW
  const dec = isObject(cmd.payload) ? cmd.payload : null
  // Prefer what the payload decoder found; read the bytes ourselves only for what it left out.
  const decodedHeaders = dec !== null ? headerPairs(dec.headers) : null
  let parsed: ReturnType<typeof parseMime> | null = null
  const mime = (): ReturnType<typeof parseMime> => (parsed ??= parseMime(raw))
  const contentType = (dec !== null ? str(dec.contentType) : null) ?? (decodedHeaders !== null ? header(decodedHeaders, 'Content-Type') : mime().contentType)
  const headers = decodedHeaders ?? mime().headers
  const ct = bareContentType(contentType)
  let text: string | null = dec !== null ? str(dec.text) ?? str(dec.body) : null
  if (text === null && ct !== null && isTextual(ct)) text = mime().body.toString('utf8')
  let p2p: P2pHeaderView | null = null
  let slp: SlpView | null = null
  if (ct === P2P_CONTENT_TYPE) {
    p2p = (dec !== null ? p2pFromDecoded(dec) : null) ?? parseP2pHeader(mime().body)
    slp = (dec !== null ? slpFromDecoded(dec) : null) ?? (p2p !== null && p2p.version === 1 && dec?.kind !== 'p2p' ? parseSlp(mime().body, p2p) : null)
  }
  let fileName: string | null = null
  if (slp !== null) fileName = slpFileName(slp)
  else if (ct === 'text/x-msmsgsinvite' && text !== null) fileName = header(parseHeaderBlock(text), 'Application-File')
  if (dec !== null) fileName = str(dec.fileName) ?? fileName
  const view: PayloadView = { contentType, headers, body: null, text, p2p, slp, fileName }
  // the body only when asked for (the detail pane), read from the bytes then
  Object.defineProperty(view, 'body', { get: () => mime().body, enumerable: true })
  return view
}

function isTextual(ct: string): boolean {
  return ct.startsWith('text/') || ct.endsWith('+xml') || ct.endsWith('/xml') || ct.startsWith('application/x-msnmsgr-')
}

/** `Name: value\r\n…\r\n\r\nbody`; tolerates bare LF. A payload without a header block is all body. */
export function parseMime(raw: Buffer): { contentType: string | null; headers: Array<[string, string]>; body: Buffer } {
  let end = -1
  let bodyStart = 0
  for (let i = 0; i < raw.length - 1; i++) {
    if (raw[i] === 0x0a) {
      if (raw[i + 1] === 0x0a) { end = i; bodyStart = i + 2; break }
      if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) { end = i; bodyStart = i + 3; break }
    }
  }
  if (end < 0) {
    // headers only, no blank line (or no headers at all)
    const text = raw.toString('latin1')
    if (/^[A-Za-z][A-Za-z0-9-]*:/.test(text)) {
      const headers = parseHeaderBlock(raw.toString('utf8'))
      return { contentType: header(headers, 'Content-Type'), headers, body: raw.subarray(raw.length) }
    }
    return { contentType: null, headers: [], body: raw }
  }
  const headText = raw.subarray(0, end).toString('utf8')
  if (!/^[A-Za-z][A-Za-z0-9-]*:/.test(headText)) return { contentType: null, headers: [], body: raw }
  const headers = parseHeaderBlock(headText)
  return { contentType: header(headers, 'Content-Type'), headers, body: raw.subarray(bodyStart) }
}

/** `Name: value` lines up to the first empty line. */
export function parseHeaderBlock(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const line of text.split(/\r?\n|\r/)) {
    if (line === '') break
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    out.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
  }
  return out
}

/** Read the 48-byte v1 header (messages.md section 5.1). Null when the body is too short. */
export function parseP2pHeader(body: Buffer): P2pHeaderView | null {
  if (body.length < 48) return null
  const u64 = (at: number): number => Number(body.readBigUInt64LE(at))
  const messageLength = body.readUInt32LE(24)
  const footerAt = 48 + messageLength
  return {
    version: 1,
    sessionId: body.readUInt32LE(0),
    identifier: body.readUInt32LE(4),
    offset: u64(8),
    totalSize: u64(16),
    messageLength,
    flags: body.readUInt32LE(28),
    ackIdentifier: body.readUInt32LE(32),
    ackUniqueId: body.readUInt32LE(36),
    ackDataSize: u64(40),
    footer: body.length >= footerAt + 4 ? body.readUInt32BE(footerAt) : null,
  }
}

function num(v: unknown): number | null {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v)
  return null
}

function p2pFromDecoded(dec: Record<string, unknown>): P2pHeaderView | null {
  const h = isObject(dec.header) ? dec.header : isObject(dec.p2p) ? dec.p2p : null
  if (h === null) return null
  const footer = num(dec.appId) ?? num(h.footer)
  if (num(dec.version) === 2 || num(h.headerLength) !== null) {
    const data = isObject(h.dataHeader) ? h.dataHeader : {}
    return {
      version: 2, sessionId: num(data.sessionId) ?? 0, identifier: num(h.sequence) ?? 0, offset: 0,
      totalSize: num(data.bytesRemaining) ?? 0, messageLength: num(h.messageLength) ?? 0,
      flags: num(data.tf) ?? 0, ackIdentifier: num(h.ack) ?? 0, ackUniqueId: 0, ackDataSize: 0, footer,
    }
  }
  const sessionId = num(h.sessionId)
  if (sessionId === null) return null
  const pick = (...names: string[]): number => {
    for (const n of names) { const v = num(h[n]); if (v !== null) return v }
    return 0
  }
  return {
    version: 1,
    sessionId,
    identifier: pick('identifier'),
    offset: pick('offset'),
    totalSize: pick('totalSize'),
    messageLength: pick('messageSize', 'messageLength'),
    flags: pick('flags'),
    ackIdentifier: pick('ackedIdentifier', 'ackIdentifier'),
    ackUniqueId: pick('ackedUniqueId', 'ackUniqueId'),
    ackDataSize: pick('ackedDataSize', 'ackDataSize'),
    footer,
  }
}

function slpFromDecoded(dec: Record<string, unknown>): SlpView | null {
  const s = isObject(dec.slp) ? dec.slp : null
  if (s === null) return null
  const version = str(s.version) ?? 'MSNSLP/1.0'
  const method = str(s.method)
  const startLine = method !== null
    ? [method, str(s.uri), version].filter((x) => x !== null).join(' ')
    : [version, s.status !== undefined ? String(s.status) : null, str(s.reason)].filter((x) => x !== null).join(' ')
  const headers = headerPairs(s.headers) ?? []
  const fields = headerPairs(s.fields) ?? []
  return { startLine, method: slpMethod(startLine), headers, contentType: str(s.contentType) ?? header(headers, 'Content-Type'), fields }
}

function slpMethod(startLine: string): string {
  const m = /^MSNSLP\/\d\.\d\s+(.*)$/.exec(startLine)
  if (m !== null) return m[1]!.trim()
  return startLine.split(' ', 1)[0] ?? ''
}

/** MSNSLP text sits in a first chunk (offset 0) on session 0; later chunks are continuations. */
function parseSlp(body: Buffer, h: P2pHeaderView): SlpView | null {
  if (h.sessionId !== 0 || h.messageLength === 0 || h.offset !== 0) return null
  const text = body.subarray(48, Math.min(body.length, 48 + h.messageLength)).toString('utf8')
  const nl = text.indexOf('\n')
  const startLine = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '')
  if (!/MSNSLP\/\d\.\d/.test(startLine)) return null
  const rest = nl < 0 ? '' : text.slice(nl + 1)
  const split = rest.search(/\r?\n\r?\n/)
  const headers = parseHeaderBlock(split < 0 ? rest : rest.slice(0, split))
  const bodyText = split < 0 ? '' : rest.slice(split).replace(/^\r?\n\r?\n/, '')
  return { startLine, method: slpMethod(startLine), headers, contentType: header(headers, 'Content-Type'), fields: parseHeaderBlock(bodyText.replace(/\0+$/, '')) }
}

/** The file name inside a file-transfer INVITE context: 574-byte structure, name at 20 in UTF-16LE. */
function slpFileName(slp: SlpView): string | null {
  if (header(slp.fields, 'EUF-GUID')?.toUpperCase() !== FILE_TRANSFER_GUID) return null
  const context = header(slp.fields, 'Context')
  if (context === null) return null
  const bytes = Buffer.from(context, 'base64')
  if (bytes.length < 20 + 2) return null
  const name = bytes.subarray(20, Math.min(bytes.length, 540)).toString('utf16le')
  const nul = name.indexOf('\0')
  return nul < 0 ? name : name.slice(0, nul)
}

/** `0x20` → `MSNObject data`; several bits join with `+`. */
export function p2pFlagNames(flags: number): string {
  if (flags === 0) return 'normal'
  const known: Array<[number, string]> = [
    [0x1000030, 'file data (WLM)'], [0x1000020, 'MSNObject data (WLM)'],
    [0x01, 'NAK'], [0x02, 'ACK'], [0x04, 'waiting'], [0x08, 'header error'], [0x10, 'file data'],
    [0x20, 'MSNObject data'], [0x40, 'cancel'], [0x80, 'transport error'], [0x100, 'direct handshake'],
  ]
  const names: string[] = []
  let rest = flags
  for (const [bit, name] of known) {
    if ((rest & bit) === bit) { names.push(name); rest &= ~bit }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`)
  return names.join('+')
}

/** What a chat transcript shows for one command, or null when it is not chat. */
export interface ChatItem {
  kind: 'text' | 'typing' | 'nudge' | 'wink' | 'voice' | 'action' | 'file' | 'invite' | 'join' | 'leave' | 'roster'
  /** the account that did it, when known */
  who: string | null
  text: string
}

const bare = (account: string): string => {
  let a = account.replace(/^<|>$/g, '').replace(/^msnmsgr:/i, '')
  const semi = a.indexOf(';')
  if (semi >= 0) a = a.slice(0, semi)
  const colon = a.indexOf(':')
  if (colon >= 0 && /^\d+$/.test(a.slice(0, colon))) a = a.slice(colon + 1)
  return a
}

/** Who sent a message command: `MSG <sender> <name> <len>` from the server, the account on the client side. */
export function messageSender(ev: ScopeEvent & { kind: 'command' }): string | null {
  const c = ev.command
  const from = header(payloadView(c).headers, 'From')
  if (from !== null && c.verb !== 'MSG') return bare(from)
  if (c.from === 'server' && c.verb === 'MSG' && c.args[0] !== undefined) return bare(c.args[0])
  return ev.account ?? null
}

const DATACAST: Record<string, ChatItem['kind']> = { 1: 'nudge', 2: 'wink', 3: 'voice', 4: 'action' }

/** A chat transcript line for text, typing, nudges, transfers, joins and departures. */
export function chatItem(ev: ScopeEvent): ChatItem | null {
  if (ev.kind !== 'command') return null
  const c = ev.command
  const a = c.args
  switch (c.verb) {
    case 'JOI': return { kind: 'join', who: a[0] !== undefined ? bare(a[0]) : null, text: 'joined' }
    case 'IRO': return { kind: 'roster', who: a[2] !== undefined ? bare(a[2]) : null, text: 'is here' }
    case 'BYE': return { kind: 'leave', who: a[0] !== undefined ? bare(a[0]) : null, text: a[1] === '1' ? 'left (idle)' : 'left' }
    case 'MSG': case 'SDG': case 'UUM': case 'UBM': break
    default: return null
  }
  if (c.payloadRaw === null) return null
  const v = payloadView(c)
  const ct = bareContentType(v.contentType)
  const who = messageSender(ev)
  const dec = c.payload
  // MSNP21 multi-part messages say what they are in Message-Type
  if (dec !== null && dec.kind === 'multipart' && typeof dec.messageType === 'string') {
    const routing = isObject(dec.routing) && isObject(dec.routing.from) ? str(dec.routing.from.account) : null
    const sender = routing ?? who
    switch (dec.messageType.toLowerCase()) {
      case 'text': return { kind: 'text', who: sender, text: str(dec.text) ?? v.text ?? '' }
      case 'control/typing': return { kind: 'typing', who: sender, text: 'is typing' }
      case 'nudge': return { kind: 'nudge', who: sender, text: 'sent a nudge' }
      case 'wink': return { kind: 'wink', who: sender, text: 'sent a wink' }
      case 'voice': return { kind: 'voice', who: sender, text: 'sent a voice clip' }
      default: return null
    }
  }
  if (ct === 'text/plain') return { kind: 'text', who, text: v.text ?? '' }
  if (ct === 'text/x-msmsgscontrol') {
    const typing = header(v.headers, 'TypingUser')
    return { kind: 'typing', who: typing !== null ? bare(typing) : who, text: 'is typing' }
  }
  if (ct === 'text/x-msnmsgr-datacast') {
    const fields = parseHeaderBlock(v.text ?? '')
    const id = header(fields, 'ID') ?? ''
    const kind = DATACAST[id]
    if (kind === undefined) return null
    const data = header(fields, 'Data') ?? ''
    const text = kind === 'nudge' ? 'sent a nudge' : kind === 'wink' ? 'sent a wink' : kind === 'voice' ? 'sent a voice clip' : data
    return { kind, who, text }
  }
  if (ct === 'text/x-msmsgsinvite') {
    const fields = parseHeaderBlock(v.text ?? '')
    const command = header(fields, 'Invitation-Command') ?? 'INVITE'
    const app = header(fields, 'Application-Name') ?? 'an application'
    if (v.fileName !== null) return { kind: 'file', who, text: `${command === 'INVITE' ? 'offers' : command.toLowerCase()} file ${v.fileName}` }
    return { kind: 'invite', who, text: `${command.toLowerCase()} ${app}` }
  }
  if (ct === P2P_CONTENT_TYPE && v.slp !== null && v.fileName !== null && v.slp.method === 'INVITE') {
    return { kind: 'file', who, text: `offers file ${v.fileName}` }
  }
  return null
}

const DIGITS3 = /^\d{3}$/

/** True for numeric error replies (`911 4`). */
export const isErrorVerb = (verb: string): boolean => DIGITS3.test(verb)

function clip(s: string, max: number): string {
  const one = s.replace(/\s*\r?\n\s*/g, ' ⏎ ').trim()
  return one.length > max ? `${one.slice(0, max - 1)}…` : one
}

/** A short summary of a command's payload: message text, typing user, nudge, P2P/SLP method, file name. */
export function payloadSummary(ev: ScopeEvent, max = 60): string {
  if (ev.kind !== 'command') return ''
  const c = ev.command
  if (c.payloadRaw === null) return ''
  if (c.payloadRaw.length === 0) return ''
  const item = chatItem(ev)
  const v = payloadView(c)
  const ct = bareContentType(v.contentType)
  if (item !== null) {
    switch (item.kind) {
      case 'text': return `"${clip(item.text, max - 2)}"`
      case 'typing': return `typing: ${item.who ?? '?'}`
      case 'nudge': return 'nudge'
      case 'wink': return 'wink'
      case 'voice': return 'voice clip'
      case 'action': return `action: ${clip(item.text, max - 8)}`
      case 'file': return clip(`file: ${v.fileName ?? ''}${v.slp !== null ? ` (SLP ${v.slp.method})` : ''}`, max)
      default: return clip(item.text, max)
    }
  }
  if (ct === P2P_CONTENT_TYPE) {
    const h = v.p2p
    if (h === null) return 'P2P (short)'
    if (v.slp !== null) return clip(`P2P SLP ${v.slp.method}${v.slp.contentType !== null ? ` ${v.slp.contentType.replace('application/x-msnmsgr-', '')}` : ''}`, max)
    if ((h.flags & 0x02) !== 0) return `P2P ACK id ${h.ackIdentifier}`
    if (h.messageLength === 0) return `P2P ${p2pFlagNames(h.flags)}`
    return `P2P data sid ${h.sessionId} ${h.offset + h.messageLength}/${h.totalSize}`
  }
  if (ct !== null) {
    if (ct === 'text/x-msmsgsprofile') return 'profile'
    if (ct.includes('emailnotification')) {
      const unread = header(parseHeaderBlock(v.text ?? ''), 'Inbox-Unread')
      return unread !== null ? `mail: ${unread} unread` : 'mail notification'
    }
    return clip(ct, max)
  }
  const text = c.payloadRaw.toString('utf8')
  return `[${c.payloadRaw.length} B] ${clip(text, max - 8)}`
}

// C0/C1 controls, DEL, and bidi overrides/isolates (which could reorder what a line shows)
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Make wire text safe and single-line for a terminal. */
export function sanitize(text: string): string {
  return text.replace(/\r?\n|\r/g, '⏎').replace(/\t/g, ' ').replace(UNSAFE, '·')
}

/** What a non-command event says, as text. */
export function eventDetailText(ev: ScopeEvent): string {
  switch (ev.kind) {
    case 'command': return ''
    case 'malformed': {
      const preview = sanitize(ev.raw.subarray(0, 48).toString('latin1'))
      return `${ev.code}: ${ev.reason} [${ev.raw.length} B] ${preview}`
    }
    case 'session-open': {
      const parts = [`${ev.client ?? '?'} ⇄ ${ev.server ?? '?'}`]
      if (ev.transport === 'http') parts.push('gateway')
      if (ev.parent !== undefined) parts.push(`via ${ev.via ?? 'referral'} from ${ev.parent}`)
      if (ev.midStream === true) parts.push('(mid-stream)')
      return parts.join(' ')
    }
    case 'session-close': {
      const bytes = ev.bytes !== undefined ? ` (${ev.bytes.client} B up, ${ev.bytes.server} B down)` : ''
      return `${ev.reason}${bytes}`
    }
    case 'gap': return `${ev.bytes} bytes missing${ev.reason !== undefined ? `: ${ev.reason}` : ''}`
    case 'http': {
      const parts: string[] = []
      if (ev.method !== undefined) parts.push(ev.method)
      if (ev.url !== undefined) parts.push(ev.url)
      if (ev.status !== undefined) parts.push(String(ev.status))
      if (ev.action !== undefined && ev.url === undefined) parts.push(`Action=${ev.action}`)
      if (ev.sessionId !== undefined && ev.url === undefined) parts.push(`SessionID=${ev.sessionId}`)
      if (ev.gwIp !== undefined) parts.push(`GW-IP=${ev.gwIp}`)
      if (ev.sessionClose === true) parts.push('Session=close')
      parts.push(`[${ev.bodyLength} B]`)
      if (ev.note !== undefined) parts.push(ev.note)
      return parts.join(' ')
    }
    case 'redirect': return `${ev.verb} ${ev.real} → ${ev.handedOut ?? 'unchanged'}${ev.note !== undefined ? ` (${ev.note})` : ''}`
    case 'limit': return `${ev.limit}: ${ev.detail}`
    case 'rule-error': return `rule "${ev.rule}": ${ev.error}`
    case 'replay-diff': return `${ev.detail}${ev.expected !== undefined ? ` expected ${ev.expected}` : ''}${ev.actual !== undefined ? ` got ${ev.actual}` : ''}`
    case 'unmatched': return ev.detail
    case 'stats': return Object.entries(ev.counters).map(([k, v]) => `${k}=${v}`).join(' ')
  }
}

