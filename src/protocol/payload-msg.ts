/**
 * MSG payloads (and the MIME messages of UUM/UBM): the header block, then the body by content
 * type (messages.md sections 2-5): text with its X-MMS-IM-Format, typing, datacasts, legacy
 * invitations, P2P, NS profile and mail notifications, custom emoticons. This runs for every MSG
 * in the decoder's hot path, so the common types take the shortest route: one latin1 view of the
 * header bytes, indexOf-based line splitting, no regex per header, and a cache of header blocks
 * already seen (a conversation repeats the same block message after message). Never throws.
 */
import type { DecodedPayload } from './events.js'
import {
  decodeText, getHeader, headerObject, hexPreview, parseContentType, printableText, readHeaders, readHeaderText, sameLower,
  type ContentType, type HeaderBlock,
} from './mime.js'
import { parseMsnObject } from './msnobject.js'
import { decodeEncodedWords, decodeImFormat, type ImFormat } from './payload-format.js'
import { decodeP2P } from './p2p.js'
import { child, childrenNamed, findFirst, parseXml, textContent, type XmlElement } from './xml.js'
import type { SliceableBuffer } from '../buffers.js'

/** A header block inside a body (invitations, datacasts, mail notifications). */
function bodyBlock(buf: Buffer, start: number): HeaderBlock {
  return readHeaderText(buf.toString('latin1', start))
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  const t = v.trim()
  if (!/^-?\d{1,15}$/.test(t)) return undefined
  return Number(t)
}

/** Set `out[key]` from a header when present, as a number when `numeric`. */
function pick(out: Record<string, unknown>, b: HeaderBlock, header: string, key: string, numeric = false): void {
  const v = getHeader(b.names, b.values, header)
  if (v === undefined) return
  if (!numeric) { out[key] = v; return }
  const n = num(v)
  out[key] = n ?? v
}

const DATACASTS: Readonly<Record<number, string>> = { 1: 'nudge', 2: 'wink', 3: 'voice-clip', 4: 'action-message' }

const INVITE_APPS: Readonly<Record<string, string>> = {
  '5D3E02AB-6190-11D3-BBBB-00C04F795683': 'file-transfer',
  '02D3C01F-BF30-4825-A83A-DE7AF41648AA': 'voice',
}

const INVITE_FIELDS: ReadonlyArray<readonly [string, string, boolean?]> = [
  ['invitation-command', 'command'], ['invitation-cookie', 'cookie'], ['application-name', 'applicationName'],
  ['application-guid', 'applicationGuid'], ['session-protocol', 'sessionProtocol'], ['session-id', 'sessionId'],
  ['application-file', 'fileName'], ['application-filesize', 'fileSize', true], ['connectivity', 'connectivity'],
  ['launch-application', 'launchApplication'], ['request-data', 'requestData'], ['ip-address', 'ipAddress'],
  ['ip-address-internal', 'ipAddressInternal'], ['port', 'port', true], ['portx', 'portX', true],
  ['portx-internal', 'portXInternal', true], ['authcookie', 'authCookie'], ['sender-connect', 'senderConnect'],
  ['cancel-code', 'cancelCode'],
]

const PROFILE_FIELDS: ReadonlyArray<readonly [string, string, boolean?]> = [
  ['logintime', 'loginTime', true], ['lang_preference', 'langPreference', true], ['preferredemail', 'preferredEmail'],
  ['country', 'country'], ['flags', 'flags', true], ['sid', 'sid', true], ['kv', 'kv', true],
  ['clientip', 'clientIp'], ['clientport', 'clientPort', true],
]
const PROFILE_FLAGS: ReadonlyArray<readonly [string, string]> = [
  ['emailenabled', 'emailEnabled'], ['abchmigrated', 'abchMigrated'], ['mpopenabled', 'mpopEnabled'], ['touneeded', 'touNeeded'],
]

const MAIL_TYPES: Readonly<Record<string, string>> = {
  'text/x-msmsgsinitialemailnotification': 'initial',
  'text/x-msmsgsemailnotification': 'new',
  'text/x-msmsgsactivemailnotification': 'activity',
  'text/x-msmsgsinitialmdatanotification': 'mail-data',
  'text/x-msmsgsoimnotification': 'oim',
}
const MAIL_FIELDS: ReadonlyArray<readonly [string, string, boolean?]> = [
  ['inbox-unread', 'inboxUnread', true], ['folders-unread', 'foldersUnread', true], ['inbox-url', 'inboxUrl'],
  ['folders-url', 'foldersUrl'], ['post-url', 'postUrl'], ['from', 'from'], ['from-addr', 'fromAddr'],
  ['subject', 'subject'], ['message-url', 'messageUrl'], ['dest-folder', 'destFolder'], ['src-folder', 'srcFolder'],
  ['message-delta', 'messageDelta', true], ['id', 'id'],
]

/** 64-bit Passport member id from its two signed 32-bit halves. */
function memberId(high: string | undefined, low: string | undefined): number | string | undefined {
  const h = num(high), l = num(low)
  if (h === undefined || l === undefined) return undefined
  const v = (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0)
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
}

/** What a header block says, computed once per distinct block (they repeat: same sender, same client). */
interface Head {
  block: HeaderBlock
  /** where the body starts (just after the empty line that ends the block) */
  bodyStart: number
  contentType: string | null
  mediaType: string
  /** the media type whose decoder applies (a long message's continuation parts have none) */
  decodeAs: string
  charset: string | undefined
  /** frozen: shared by every payload with this header block */
  headers: Readonly<Record<string, string>>
  /** text/plain: X-MMS-IM-Format and the long-message headers, decoded */
  format: ImFormat | undefined
  textExtras: Record<string, unknown> | undefined
  /** P2P-Dest and P2P-Src (the last of each, as getHeader reads them) */
  p2pDest: string | undefined
  p2pSrc: string | undefined
  /** text/x-msmsgscontrol: the TypingUser header, or null */
  typingUser: string | null
  problem: string | undefined
}

function makeHead(block: HeaderBlock): Head {
  const { names, values } = block
  // one pass for the headers object and the headers that shape the decoding
  const headers: Record<string, string> = {}
  let contentType: string | undefined, fmt: string | undefined, messageId: string | undefined, chunks: string | undefined, chunk: string | undefined
  let p2pDest: string | undefined, p2pSrc: string | undefined, typingUser: string | null = null
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!, v = values[i]!
    if (n === '__proto__') Object.defineProperty(headers, n, { value: v, enumerable: true, writable: true, configurable: true })
    else headers[n] = v
    switch (n.length) {
      case 12: if (sameLower(n, 'content-type')) contentType = v; break
      case 15: if (sameLower(n, 'x-mms-im-format')) fmt = v; break
      case 10: if (sameLower(n, 'message-id')) messageId = v; else if (sameLower(n, 'typinguser')) typingUser = v; break
      case 6: if (sameLower(n, 'chunks')) chunks = v; break
      case 5: if (sameLower(n, 'chunk')) chunk = v; break
      case 8: if (sameLower(n, 'p2p-dest')) p2pDest = v; break
      case 7: if (sameLower(n, 'p2p-src')) p2pSrc = v; break
    }
  }
  const ct = contentType === undefined ? NO_TYPE : parseContentType(contentType)
  let format: ImFormat | undefined, textExtras: Record<string, unknown> | undefined
  // the later parts of a long message carry only Message-ID and Chunk (messages.md section 3.1)
  const continuation = contentType === undefined && chunk !== undefined
  if (ct.mediaType === 'text/plain' || continuation) {
    if (fmt !== undefined) format = decodeImFormat(fmt)
    if (messageId !== undefined || chunks !== undefined || chunk !== undefined) {
      textExtras = {}
      if (messageId !== undefined) textExtras.messageId = messageId
      if (chunks !== undefined) textExtras.chunks = num(chunks) ?? chunks
      if (chunk !== undefined) textExtras.chunk = num(chunk) ?? chunk
    }
  }
  return {
    block, bodyStart: block.bodyStart, contentType: contentType ?? null, mediaType: ct.mediaType, decodeAs: continuation ? 'text/plain' : ct.mediaType, charset: ct.charset,
    headers: Object.freeze(headers), format: format === undefined ? undefined : freezeFormat(format), textExtras, p2pDest, p2pSrc, typingUser,
    problem: block.end === '' ? 'header block not terminated by an empty line' : contentType === undefined && !continuation ? 'no Content-Type header' : undefined,
  }
}

const NO_TYPE: ContentType = { mediaType: '' }

/**
 * A format is decoded once per distinct header block and handed to every message that has it,
 * so it is frozen, like the headers object (docs/payloads.md).
 */
function freezeFormat(f: ImFormat): Readonly<ImFormat> {
  if (f.effects !== undefined) Object.freeze(f.effects)
  return Object.freeze(f)
}

/**
 * A two-way set-associative cache of decoded header blocks, keyed by their exact text. The set
 * comes from the tail of the block (where headers differ: the sender, the colour of the format)
 * and two sampled bytes, so a lookup hashes a few dozen bytes and costs one or two string
 * comparisons. Two ways and 4096 entries (a few MB at most) keep the blocks of a busy
 * server's few thousand senders from evicting each other.
 */
const SETS = 2048
const slotKeys: Array<string | undefined> = new Array<string | undefined>(SETS * 2).fill(undefined)
const slotHeads: Array<Head | undefined> = new Array<Head | undefined>(SETS * 2).fill(undefined)
/** per slot, the fingerprint of its block: most mismatches end here, without touching the key */
const slotPrints = new Int32Array(SETS * 2)
/** per set, the way used last (the other one is replaced) */
const lastWay = new Uint8Array(SETS)

/**
 * Set and fingerprint from the block's text. A block is cached only the second time its
 * fingerprint shows up in a set: traffic where every block differs (random colours, many
 * senders) then makes no long-lived garbage, which would cost more in GC than the cache saves.
 */
const fingerprints = new Int32Array(SETS)
let lastFingerprint = 0

/** How many bytes before the closing empty line are hashed. */
const HASHED_TAIL = 48

/**
 * Set of the block buf[0, l), read from the bytes (cheaper than the characters of a sliced
 * string), in four independent lanes so the multiplications do not wait for one another.
 */
function setOf(buf: Buffer, l: number): number {
  let h0 = Math.imul(l, 0x9e3779b1)
  h0 = Math.imul(h0 ^ buf[l >> 1]!, 0x85ebca6b)
  let h1 = Math.imul(h0 ^ buf[l >> 2]!, 0xc2b2ae35)
  let h2 = 0x27d4eb2f, h3 = 0x165667b1
  const end = l - 4
  let i = end > HASHED_TAIL ? end - HASHED_TAIL : 0
  for (; i + 4 <= end; i += 4) {
    h0 = Math.imul(h0 ^ buf[i]!, 0x01000193)
    h1 = Math.imul(h1 ^ buf[i + 1]!, 0x01000193)
    h2 = Math.imul(h2 ^ buf[i + 2]!, 0x01000193)
    h3 = Math.imul(h3 ^ buf[i + 3]!, 0x01000193)
  }
  for (; i < end; i++) h0 = Math.imul(h0 ^ buf[i]!, 0x01000193)
  let h = Math.imul(h0 ^ (h1 >>> 7), 0x85ebca6b) ^ Math.imul(h2 ^ (h3 >>> 11), 0xc2b2ae35)
  h ^= h >>> 16
  lastFingerprint = h ^ (h >>> 13)
  return (h ^ (h >>> 15)) & (SETS - 1)
}

/** How much of a payload to look at for its header block before looking at all of it. */
const HEAD_WINDOW = 256

/** The header block of a MIME payload, from the cache when the same block was seen before. */
function readHead(buf: Buffer): Head {
  const n = buf.length
  // Node's latin1 slice directly: toString's argument handling shows in profiles
  let s = (buf as SliceableBuffer).latin1Slice(0, n > HEAD_WINDOW ? HEAD_WINDOW : n)
  let at = s.indexOf('\r\n\r\n')
  if (at < 0 && n > HEAD_WINDOW) { s = (buf as SliceableBuffer).latin1Slice(0, n); at = s.indexOf('\r\n\r\n') }
  if (at < 0) return makeHead(readHeaders(buf))
  const len = at + 4
  const set = setOf(buf, len)
  const slot = set << 1
  const key = len === s.length ? s : s.slice(0, len)
  const print = lastFingerprint
  if (slotPrints[slot] === print && slotKeys[slot] === key) { lastWay[set] = 0; return slotHeads[slot]! }
  if (slotPrints[slot + 1] === print && slotKeys[slot + 1] === key) { lastWay[set] = 1; return slotHeads[slot + 1]! }
  const head = makeHead(readHeaderText(key))
  if (fingerprints[set] !== lastFingerprint) { fingerprints[set] = lastFingerprint; return head }
  const way = lastWay[set]! ^ 1
  lastWay[set] = way
  // a slice of a whole-payload view would keep all of it alive in the cache
  slotKeys[slot + way] = s.length > HEAD_WINDOW ? buf.toString('latin1', 0, len) : key
  slotHeads[slot + way] = head
  slotPrints[slot + way] = print
  return head
}

function base(h: Head, kind: string): DecodedPayload {
  const p: DecodedPayload = { kind, contentType: h.contentType, mediaType: h.mediaType, headers: h.headers }
  if (h.charset !== undefined) p.charset = h.charset
  return p
}

/** Decode a MIME-like message payload (MSG, UUM, UBM). */
export function decodeMimeMessage(buf: Buffer): DecodedPayload {
  const head = readHead(buf)
  // the common types need only what the head computed: its block is read by the rare ones
  const start = head.bodyStart
  const ct = head
  const problem = head.problem
  let p: DecodedPayload
  switch (head.decodeAs) {
    case 'text/plain': {
      p = base(head, 'text')
      const t = decodeText(buf, start, buf.length, ct.charset)
      p.text = t.text
      if (head.format !== undefined) p.format = head.format
      if (head.textExtras !== undefined) for (const k in head.textExtras) p[k] = head.textExtras[k]
      if (t.error !== undefined) p.error = t.error
      break
    }
    case 'text/x-msmsgscontrol':
      p = base(head, 'typing')
      p.typingUser = head.typingUser
      break
    case 'text/x-msnmsgr-datacast': {
      p = base(head, 'datacast')
      const b = bodyBlock(buf, start)
      p.fields = headerObject(b.names, b.values)
      const id = num(getHeader(b.names, b.values, 'id'))
      p.datacastId = id ?? null
      p.datacastName = id === undefined ? null : DATACASTS[id] ?? 'unknown'
      const data = getHeader(b.names, b.values, 'data')
      if (data !== undefined) {
        p.data = data
        const obj = id === 2 || id === 3 ? parseMsnObject(data) : null
        if (obj !== null) p.msnObject = obj
      }
      if (id === undefined) p.error = 'datacast without a numeric ID'
      break
    }
    case 'text/x-msmsgsinvite': {
      p = base(head, 'invite')
      const b = bodyBlock(buf, start)
      const inv: Record<string, unknown> = {}
      for (const [h, k, n] of INVITE_FIELDS) pick(inv, b, h, k, n)
      const guid = typeof inv.applicationGuid === 'string' ? INVITE_APPS[inv.applicationGuid.replace(/[{}]/g, '').toUpperCase()] : undefined
      if (guid !== undefined) inv.application = guid
      inv.fields = headerObject(b.names, b.values)
      p.invitation = inv
      if (inv.fileName !== undefined) p.fileName = inv.fileName
      if (inv.fileSize !== undefined) p.fileSize = inv.fileSize
      if (inv.command === undefined) p.error = 'invitation without Invitation-Command'
      break
    }
    case 'application/x-msnmsgrp2p': {
      p = base(head, 'p2p')
      if (head.p2pDest !== undefined) p.dest = head.p2pDest
      if (head.p2pSrc !== undefined) p.src = head.p2pSrc
      decodeP2P(buf, start, p)
      break
    }
    case 'text/x-msmsgsprofile': {
      p = base(head, 'profile')
      const block = head.block
      const { names, values } = block
      for (const [h, k, n] of PROFILE_FIELDS) pick(p, block, h, k, n)
      for (const [h, k] of PROFILE_FLAGS) {
        const v = getHeader(names, values, h)
        if (v !== undefined) p[k] = v.trim() === '1'
      }
      const id = memberId(getHeader(names, values, 'memberidhigh'), getHeader(names, values, 'memberidlow'))
      if (id !== undefined) p.memberId = id
      break
    }
    case 'text/x-msmsgssystemmessage': {
      p = base(head, 'system')
      const b = bodyBlock(buf, start)
      p.fields = headerObject(b.names, b.values)
      const { names, values } = head.block
      const type = num(getHeader(b.names, b.values, 'type') ?? getHeader(names, values, 'type'))
      const arg = num(getHeader(b.names, b.values, 'arg1') ?? getHeader(names, values, 'arg1'))
      if (type !== undefined) p.systemType = type
      if (type === 1 && arg !== undefined) p.minutes = arg
      break
    }
    case 'text/x-mms-emoticon':
    case 'text/x-mms-animemoticon': {
      p = base(head, 'emoticon')
      p.animated = ct.mediaType === 'text/x-mms-animemoticon'
      const t = decodeText(buf, start, buf.length, ct.charset).text.split('\t')
      const list: Record<string, unknown>[] = []
      for (let i = 0; i + 1 < t.length; i += 2) {
        const shortcut = t[i]!.replace(/^[\r\n]+/, '')
        if (shortcut === '' && t[i + 1] === '') continue
        list.push({ shortcut, msnObject: parseMsnObject(t[i + 1]!) })
      }
      p.emoticons = list
      break
    }
    case 'text/x-clientcaps':
    case 'text/x-keepalive': {
      p = base(head, ct.mediaType === 'text/x-clientcaps' ? 'clientcaps' : 'keepalive')
      const b = bodyBlock(buf, start)
      p.fields = headerObject(b.names, b.values)
      break
    }
    case 'image/gif':
    case 'application/x-ms-ink':
      p = base(head, 'ink')
      p.dataLength = buf.length - start
      p.preview = hexPreview(buf, start)
      break
    default: {
      const mail = MAIL_TYPES[ct.mediaType]
      if (mail !== undefined) { p = decodeMail(base(head, 'mail'), mail, buf, head.block); break }
      p = base(head, 'mime')
      const text = printableText(buf, start, buf.length)
      if (text !== undefined) p.text = text
      else { p.dataLength = buf.length - start; p.preview = hexPreview(buf, start) }
    }
  }
  if (problem !== undefined && p.error === undefined) p.error = problem
  return p
}

function decodeMail(p: DecodedPayload, mailType: string, buf: Buffer, head: HeaderBlock): DecodedPayload {
  p.mailType = mailType
  const body = bodyBlock(buf, head.bodyStart)
  p.fields = headerObject(body.names, body.values)
  for (const [h, k, n] of MAIL_FIELDS) {
    pick(p, head, h, k, n)
    pick(p, body, h, k, n)
  }
  if (typeof p.from === 'string') p.from = decodeEncodedWords(p.from)
  if (typeof p.subject === 'string') p.subject = decodeEncodedWords(p.subject)
  const md = getHeader(body.names, body.values, 'mail-data') ?? getHeader(head.names, head.values, 'mail-data')
  if (md !== undefined) p.mailData = decodeMailData(md)
  return p
}

function numText(el: XmlElement | undefined): number | string | undefined {
  if (el === undefined) return undefined
  const t = textContent(el).trim()
  return /^\d{1,15}$/.test(t) ? Number(t) : t
}

// Mail-Data: <MD><E><I>3</I><IU>1</IU><O>0</O><OU>0</OU></E><Q>..</Q><M><T>11</T><E>bob@..</E>...</M></MD>
export function decodeMailData(raw: string): Record<string, unknown> {
  const v = raw.trim()
  if (v === 'too-large') return { tooLarge: true }
  const doc = parseXml(v)
  const md = findFirst(doc.roots, 'MD')
  if (md === undefined) return { error: doc.error ?? 'no <MD> element' }
  const out: Record<string, unknown> = {}
  const e = child(md, 'E')
  for (const [tag, key] of [['I', 'inboxTotal'], ['IU', 'inboxUnread'], ['O', 'otherTotal'], ['OU', 'otherUnread']] as const) {
    const x = numText(child(e, tag))
    if (x !== undefined) out[key] = x
  }
  const q = child(md, 'Q')
  for (const [tag, key] of [['QTM', 'quotaTotal'], ['QNM', 'quotaUsed']] as const) {
    const x = numText(child(q, tag))
    if (x !== undefined) out[key] = x
  }
  out.offlineMessages = childrenNamed(md, 'M').map((m) => {
    const o: Record<string, unknown> = {}
    for (const [tag, key] of [['T', 'type'], ['S', 'state'], ['RT', 'received'], ['SZ', 'size'], ['E', 'from'], ['I', 'id'], ['F', 'folder'], ['N', 'name'], ['SU', 'subject']] as const) {
      const x = tag === 'T' || tag === 'S' || tag === 'SZ' ? numText(child(m, tag)) : child(m, tag) === undefined ? undefined : textContent(child(m, tag))
      if (x !== undefined) o[key] = x
    }
    return o
  })
  if (doc.error !== undefined) out.error = doc.error
  return out
}
