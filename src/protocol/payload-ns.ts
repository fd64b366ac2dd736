/**
 * Notification-server payloads that are not MSG: the XML documents (UUX/UBX personal data and
 * endpoints, ADL/RML/FQY contact lists, NOT/IPG notifications, GCF policies), the
 * QRY challenge answer, and the MSNP21 multi-part messages (SDG/NFY/PUT/DEL). Each decoder turns
 * what it can read into plain JSON-friendly fields and reports the rest in `error`. Never throws.
 */
import type { DecodedPayload } from './events.js'
import { decodeP2P } from './p2p.js'
import { decodeImFormat } from './payload-format.js'
import { decodeText, getHeader, headerObject, hexPreview, parseContentType, printableText, scanBlocks, utf8Header, type HeaderBlock } from './mime.js'
import { safeDecodeURIComponent } from './msnobject.js'
import { attr, child, childrenNamed, findAll, findFirst, parseXml, textContent, type XmlElement } from './xml.js'

const withError = (p: DecodedPayload, error: string | undefined): DecodedPayload => {
  if (error !== undefined && p.error === undefined) p.error = error
  return p
}

// \0Music\01\0{0} - {1}\0Title\0Artist\0Album\0\0
/** CurrentMedia: application, category, enabled flag, format string, then the fields it formats. */
export function decodeCurrentMedia(raw: string): Record<string, unknown> {
  const parts = raw.split('\\0')
  const out: Record<string, unknown> = { raw }
  if (parts.length < 4) return out
  if (parts[0] !== '') out.application = parts[0]
  out.type = parts[1]
  out.enabled = parts[2] === '1'
  const format = parts[3]!
  out.format = format
  const fields = parts.slice(4)
  while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop()
  out.fields = fields
  out.text = format.replace(/\{(\d+)\}/g, (m, i: string) => fields[Number(i)] ?? m)
  return out
}

function endpointCaps(el: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const id = attr(el, 'id')
  if (id !== undefined) out.id = id
  const caps = child(el, 'Capabilities')
  if (caps !== undefined) {
    const c = textContent(caps).trim()
    out.capabilities = c
    const m = /^(\d+)(?::(\d+))?$/.exec(c)
    if (m !== null) { out.caps = Number(m[1]); if (m[2] !== undefined) out.extCaps = Number(m[2]) }
  }
  return out
}

function privateEndpoint(el: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const id = attr(el, 'id')
  if (id !== undefined) out.id = id
  for (const c of el.children) {
    const t = textContent(c)
    const key = c.name.charAt(0).toLowerCase() + c.name.slice(1)
    out[key] = c.name === 'Idle' ? t.trim() === 'true' : c.name === 'ClientType' && /^\d+$/.test(t.trim()) ? Number(t) : t
  }
  return out
}

const DATA_TEXT: ReadonlyArray<readonly [string, string]> = [
  ['PSM', 'psm'], ['MachineGuid', 'machineGuid'], ['DDP', 'ddp'], ['SignatureSound', 'signatureSound'],
  ['Scene', 'scene'], ['ColorScheme', 'colorScheme'],
]

/** A copy of a decoded value made only of plain objects, arrays and primitives. */
function clonePlain(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return v.map(clonePlain)
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) {
    const x = clonePlain((v as Record<string, unknown>)[k])
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true })
    else out[k] = x
  }
  return out
}

/**
 * UUX/UBX documents repeat (a contact's PSM is sent again on every change of status), so decoded
 * documents are kept by their text and handed out as copies: copying is several times cheaper
 * than parsing the XML. Bounded in entries and in text length; emptied when full.
 */
const PSM_CACHE = new Map<string, DecodedPayload>()
const PSM_CACHE_ENTRIES = 1024
const PSM_CACHE_TEXT = 1024

// <Data><PSM>At lunch</PSM><CurrentMedia></CurrentMedia><MachineGuid>{...}</MachineGuid></Data>
export function decodePsm(text: string): DecodedPayload {
  if (text.length > PSM_CACHE_TEXT) return parsePsm(text)
  const hit = PSM_CACHE.get(text)
  if (hit !== undefined) return clonePlain(hit) as DecodedPayload
  const p = parsePsm(text)
  if (PSM_CACHE.size >= PSM_CACHE_ENTRIES) PSM_CACHE.clear()
  PSM_CACHE.set(text, clonePlain(p) as DecodedPayload)
  return p
}

function parsePsm(text: string): DecodedPayload {
  const doc = parseXml(text)
  const p: DecodedPayload = { kind: 'psm' }
  const root = doc.roots[0]
  if (root === undefined) return withError({ kind: 'psm', text }, doc.error ?? 'no XML element')
  p.root = root.name
  const data = findFirst(doc.roots, 'Data')
  if (data !== undefined) {
    for (const [name, key] of DATA_TEXT) {
      const el = child(data, name)
      if (el !== undefined) p[key] = textContent(el)
    }
    const cm = child(data, 'CurrentMedia')
    if (cm !== undefined) {
      const raw = textContent(cm)
      p.currentMedia = raw === '' ? null : decodeCurrentMedia(raw)
    }
  }
  const eps = findAll(doc.roots, 'EndpointData')
  if (eps.length > 0) p.endpoints = eps.map(endpointCaps)
  const peps = findAll(doc.roots, 'PrivateEndpointData')
  if (peps.length > 0) p.privateEndpoints = peps.map(privateEndpoint)
  return withError(p, doc.error)
}

export const LIST_BITS: ReadonlyArray<readonly [number, string]> = [[1, 'FL'], [2, 'AL'], [4, 'BL'], [8, 'RL'], [16, 'PL']]
const NETWORKS: Readonly<Record<number, string>> = { 1: 'messenger', 4: 'phone', 32: 'yahoo' }

// <ml l="1"><d n="example.net"><c n="bob" l="3" t="1"/></d></ml>
/** The `<ml>` document of ADL/RML/FQY (and of errors echoing one); null when it is not one. */
export function decodeContactList(text: string): DecodedPayload | null {
  const doc = parseXml(text)
  const ml = doc.roots[0]
  if (ml === undefined || ml.name.toLowerCase() !== 'ml') return null
  const p: DecodedPayload = { kind: 'contacts' }
  if (attr(ml, 'l') === '1') p.initial = true
  const contacts: Record<string, unknown>[] = []
  for (const d of childrenNamed(ml, 'd')) {
    const domain = attr(d, 'n') ?? ''
    for (const c of childrenNamed(d, 'c')) {
      const entry: Record<string, unknown> = { account: `${attr(c, 'n') ?? ''}@${domain}` }
      const l = attr(c, 'l')
      if (l !== undefined) {
        const bits = Number(l)
        entry.listBits = Number.isInteger(bits) ? bits : l
        entry.lists = Number.isInteger(bits) ? LIST_BITS.filter(([b]) => (bits & b) !== 0).map(([, n]) => n) : []
      }
      const t = attr(c, 't')
      if (t !== undefined) {
        const n = Number(t)
        entry.type = Number.isInteger(n) ? n : t
        const name = NETWORKS[n]
        if (name !== undefined) entry.network = name
      }
      const f = attr(c, 'f')
      if (f !== undefined) entry.friendlyName = safeDecodeURIComponent(f)
      contacts.push(entry)
    }
  }
  p.contacts = contacts
  return withError(p, doc.error)
}

// <NOTIFICATION id="1" siteid="0" siteurl="http://..."><TO pid="0x1:0x2" name="alice@example.com"/><MSG id="0"><BODY>x</BODY></MSG></NOTIFICATION>
export function decodeNotification(text: string): DecodedPayload {
  const doc = parseXml(text)
  const n = findFirst(doc.roots, 'NOTIFICATION')
  if (n === undefined) return withError({ kind: 'notification', text }, doc.error ?? 'no <NOTIFICATION> element')
  const p: DecodedPayload = { kind: 'notification' }
  for (const [a, k] of [['id', 'id'], ['siteid', 'siteId'], ['siteurl', 'siteUrl']] as const) {
    const v = attr(n, a)
    if (v !== undefined) p[k] = v
  }
  for (const [el, k] of [['TO', 'to'], ['FROM', 'from']] as const) {
    const e = child(n, el)
    if (e === undefined) continue
    const who: Record<string, unknown> = { ...e.attrs }
    const via = child(e, 'VIA')
    if (via !== undefined) who.via = { ...via.attrs }
    p[k] = who
  }
  const messages = childrenNamed(n, 'MSG').map((m) => {
    const out: Record<string, unknown> = { ...m.attrs }
    const action = attr(child(m, 'ACTION'), 'url'), subscr = attr(child(m, 'SUBSCR'), 'url'), cat = attr(child(m, 'CAT'), 'id')
    if (action !== undefined) out.actionUrl = action
    if (subscr !== undefined) out.subscriptionUrl = subscr
    if (cat !== undefined) out.category = cat
    const body = child(m, 'BODY')
    if (body !== undefined) out.body = textContent(body).trim()
    return out
  })
  p.messages = messages
  const first = messages.find((m) => typeof m.body === 'string')
  if (first !== undefined) p.text = first.body
  return withError(p, doc.error)
}

// <Policies><Policy type="SHIELDS"><config><shield><cli maj="7" min="0" .../></shield>...
export function decodePolicy(text: string): DecodedPayload {
  const doc = parseXml(text)
  const p: DecodedPayload = { kind: 'policy', text }
  const types = findAll(doc.roots, 'Policy').map((e) => attr(e, 'type') ?? '')
  if (types.length > 0) p.policyTypes = types
  const clients = findAll(doc.roots, 'cli').map((e) => ({ ...e.attrs }))
  if (clients.length > 0) p.clientRules = clients
  return withError(p, doc.roots.length === 0 ? doc.error ?? 'no XML element' : doc.error)
}

/** QRY: the 32 hex digits answering a CHL. */
export function decodeChallengeResponse(payload: Buffer): DecodedPayload {
  const response = payload.toString('latin1')
  const p: DecodedPayload = { kind: 'challenge-response', response }
  if (!/^[0-9a-fA-F]{32}$/.test(response)) p.error = `expected 32 hex digits, got ${payload.length} bytes`
  return p
}

/** `1:bob@example.net;epid={guid};path=IM` */
export function parseAddress(raw: string): Record<string, unknown> {
  const parts = raw.trim().split(';')
  const head = parts[0]!
  const out: Record<string, unknown> = {}
  const colon = head.indexOf(':')
  const net = colon > 0 ? Number(head.slice(0, colon)) : NaN
  if (Number.isInteger(net)) { out.network = net; out.account = head.slice(colon + 1) } else out.account = head
  for (const param of parts.slice(1)) {
    const eq = param.indexOf('=')
    if (eq > 0) out[param.slice(0, eq).trim()] = param.slice(eq + 1).trim()
  }
  return out
}

const blockHeaders = (b: HeaderBlock): Record<string, string> => headerObject(b.names.map(utf8Header), b.values.map(utf8Header))

// Routing: 1.0\r\nTo: ..\r\nFrom: ..\r\n\r\nReliability: 1.0\r\n\r\nMessaging: 2.0\r\n...\r\n\r\n<body>
/** MSNP21 SDG/NFY/PUT/DEL payload: routing, reliability and message blocks, then the body. */
export function decodeMultipart(buf: Buffer): DecodedPayload {
  const s = buf.toString('latin1')
  const blocks = scanBlocks(s)
  const p: DecodedPayload = { kind: 'multipart' }
  let msg = blocks[blocks.length - 1]!
  if (blocks.length > 1) {
    const r = blocks[0]!
    const headers = blockHeaders(r)
    const routing: Record<string, unknown> = { headers }
    const to = getHeader(r.names, r.values, 'to'), from = getHeader(r.names, r.values, 'from')
    if (to !== undefined) routing.to = parseAddress(utf8Header(to))
    if (from !== undefined) routing.from = parseAddress(utf8Header(from))
    p.routing = routing
    if (blocks.length > 2) p.reliability = { headers: blockHeaders(blocks[1]!) }
  } else {
    p.error = 'no Routing block'
  }
  const names = msg.names.map(utf8Header), values = msg.values.map(utf8Header)
  msg = { ...msg, names, values }
  const layer = names[0]
  if (layer !== undefined && blocks.length > 1) { p.layer = layer.toLowerCase(); p.layerVersion = values[0] }
  const contentType = getHeader(names, values, 'content-type')
  p.contentType = contentType ?? null
  const ct = contentType === undefined ? { mediaType: '' } : parseContentType(contentType)
  p.mediaType = ct.mediaType
  p.headers = headerObject(names, values)
  const messageType = getHeader(names, values, 'message-type')
  if (messageType !== undefined) p.messageType = messageType
  if (msg.end === '') return withError(p, 'header block not terminated by an empty line')
  const cl = getHeader(names, values, 'content-length')
  const declared = cl !== undefined && /^\d{1,15}$/.test(cl.trim()) ? Number(cl.trim()) : undefined
  const avail = buf.length - msg.bodyStart
  let end = buf.length
  if (declared !== undefined) {
    if (declared > avail) p.error = `Content-Length ${declared}, ${avail} body bytes present`
    else end = msg.bodyStart + declared
  }
  if (ct.mediaType === 'application/x-msnmsgrp2p') {
    // P2P over SDG (Message-Type: Data): a v2 packet without the switchboard footer
    decodeP2P(end === buf.length ? buf : buf.subarray(0, end), msg.bodyStart, p)
  } else if (ct.mediaType.startsWith('text/')) {
    const t = decodeText(buf, msg.bodyStart, end, ct.charset)
    p.text = t.text
    const fmt = getHeader(names, values, 'x-mms-im-format')
    if (fmt !== undefined) p.format = decodeImFormat(fmt)
    if (t.error !== undefined) withError(p, t.error)
  } else {
    const text = printableText(buf, msg.bodyStart, end)
    if (text !== undefined) { if (text !== '') p.text = text } else { p.dataLength = end - msg.bodyStart; p.preview = hexPreview(buf, msg.bodyStart, end) }
  }
  return p
}
