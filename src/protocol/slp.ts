/**
 * MSNSLP, the SIP-like signalling inside P2P bodies (messages.md section 6): start line, headers,
 * and the key/value body with its EUF-GUID, SessionID, AppID and Context (an MSNObject for
 * display pictures and emoticons, a binary file descriptor for file transfers). Never throws;
 * a message cut short by P2P chunking is decoded as far as it goes and marked `partial`.
 */
import { getHeader, headerObject, scanHeaderBlock, utf8Header } from './mime.js'
import { parseMsnObject, type MsnObject } from './msnobject.js'

/** What a file-transfer INVITE's Context says about the file. */
export interface FileContext {
  fileName: string
  fileSize: number | string
  /** Context structure version (2; 3 carries extra data) */
  version: number
  hasPreview: boolean
  previewLength?: number
  error?: string
}

export interface SlpMessage {
  /** INVITE, BYE, ACK ... for a request */
  method?: string
  /** request URI, e.g. MSNMSGR:bob@example.net */
  uri?: string
  version: string
  /** status code and reason phrase of a response */
  status?: number
  reason?: string
  headers: Record<string, string>
  to?: string
  from?: string
  branch?: string
  callId?: string
  cseq?: number
  contentType?: string
  contentLength?: number
  /** the body's key/value lines, names as sent */
  fields: Record<string, string>
  eufGuid?: string
  /** what the session is for: display-picture, custom-emoticon, msnobject, file-transfer, webcam ... */
  application?: string
  sessionId?: number
  appId?: number
  msnObject?: MsnObject
  file?: FileContext
  /** the message continues in later P2P chunks */
  partial?: true
  error?: string
}

export const EUF_GUIDS: Readonly<Record<string, string>> = {
  'A4268EEC-FEC5-49E5-95C3-F126696BDBF6': 'msnobject',
  '5D3E02AB-6190-11D3-BBBB-00C04F795683': 'file-transfer',
  '4BD96FC0-AB17-4425-A14A-439185962DC8': 'webcam-push',
  '1C9AA97E-9C05-4583-A3BD-908A196F1E92': 'webcam-request',
}

/** First four bytes of an MSNSLP start line, big-endian: INVI(TE), BYE , ACK , CANC(EL), MSNS(LP/). */
const SLP_STARTS = new Set([0x494e5649, 0x42594520, 0x41434b20, 0x43414e43, 0x4d534e53])

/** Does this P2P body start an MSNSLP message? (checked on every P2P chunk, so no string is made) */
export function isSlpStart(buf: Buffer, start: number, end: number): boolean {
  return end - start >= 8 && SLP_STARTS.has(buf.readUInt32BE(start))
}

const HIGH = /[\x80-\xff]/

const toInt = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  const t = v.trim()
  if (!/^\d{1,15}$/.test(t)) return undefined
  return Number(t)
}

/** `<msnmsgr:bob@example.net>` -> `bob@example.net` (an MPOP `;{guid}` suffix is kept). */
function address(v: string): string {
  let s = v.trim()
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1)
  if (s.toLowerCase().startsWith('msnmsgr:')) s = s.slice(8)
  return s
}

// INVITE MSNMSGR:bob@example.net MSNSLP/1.0\r\nTo: <msnmsgr:bob@example.net>\r\n...\r\n\r\nEUF-GUID: {...}\r\n...\r\n\r\n\0
/** Decode the MSNSLP message in `buf[start, end)`. */
export function decodeSlp(buf: Buffer, start: number, end: number): SlpMessage {
  const s = buf.toString('latin1', start, end)
  const lineEnd = s.indexOf('\n')
  const first = (lineEnd < 0 ? s : s.slice(0, lineEnd)).replace(/\r$/, '')
  const parts = first.split(' ')
  let slp: SlpMessage
  if (first.startsWith('MSNSLP/')) {
    const code = toInt(parts[1])
    slp = code === undefined ? { version: parts[0]!, reason: parts.slice(1).join(' '), headers: {}, fields: {} }
      : { version: parts[0]!, status: code, reason: parts.slice(2).join(' '), headers: {}, fields: {} }
  } else {
    slp = { method: parts[0]!, uri: parts[1] ?? '', version: parts.slice(2).join(' '), headers: {}, fields: {} }
  }
  if (lineEnd < 0) { slp.partial = true; return slp }
  const block = scanHeaderBlock(s, lineEnd + 1)
  const ascii = !HIGH.test(s)
  const names = ascii ? block.names : block.names.map(utf8Header), values = ascii ? block.values : block.values.map(utf8Header)
  slp.headers = headerObject(names, values)
  const to = getHeader(names, values, 'to'), from = getHeader(names, values, 'from'), via = getHeader(names, values, 'via'), callId = getHeader(names, values, 'call-id'), cseq = toInt(getHeader(names, values, 'cseq'))
  if (to !== undefined) slp.to = address(to)
  if (from !== undefined) slp.from = address(from)
  if (via !== undefined) {
    const m = /;\s*branch=([^;\s]+)/i.exec(via)
    if (m !== null) slp.branch = m[1]!
  }
  if (callId !== undefined) slp.callId = callId.trim()
  if (cseq !== undefined) slp.cseq = cseq
  const ct = getHeader(names, values, 'content-type')
  if (ct !== undefined) slp.contentType = ct.trim()
  const cl = toInt(getHeader(names, values, 'content-length'))
  if (cl !== undefined) slp.contentLength = cl
  if (block.end === '') { slp.partial = true; return slp }
  const avail = s.length - block.bodyStart
  if (cl !== undefined && cl > avail) slp.partial = true
  const bodyEnd = block.bodyStart + (cl === undefined ? avail : Math.min(cl, avail))
  let body = s.slice(block.bodyStart, bodyEnd)
  while (body.length > 0 && body.charCodeAt(body.length - 1) === 0) body = body.slice(0, -1)
  const fb = scanHeaderBlock(body)
  const fnames = ascii ? fb.names : fb.names.map(utf8Header), fvalues = ascii ? fb.values : fb.values.map(utf8Header)
  slp.fields = headerObject(fnames, fvalues)
  const guid = getHeader(fnames, fvalues, 'euf-guid')
  if (guid !== undefined) {
    slp.eufGuid = guid.trim()
    const app = EUF_GUIDS[slp.eufGuid.replace(/[{}]/g, '').toUpperCase()]
    if (app !== undefined) slp.application = app
  }
  const sid = toInt(getHeader(fnames, fvalues, 'sessionid')), appId = toInt(getHeader(fnames, fvalues, 'appid'))
  if (sid !== undefined) slp.sessionId = sid
  if (appId !== undefined) slp.appId = appId
  const context = getHeader(fnames, fvalues, 'context')
  if (context !== undefined) {
    // a Context cut by chunking still holds a file name if enough of it arrived
    const c = context.trim()
    decodeContext(slp, slp.partial === true ? c.slice(0, c.length & ~3) : c)
  }
  return slp
}

function decodeContext(slp: SlpMessage, b64: string): void {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) { slp.error = 'Context is not base64'; return }
  const bytes = Buffer.from(b64, 'base64')
  if (slp.application === 'msnobject') {
    if (slp.partial === true) return
    const obj = parseMsnObject(bytes.toString('utf8'))
    if (obj === null) { slp.error = 'Context is not an MSNObject'; return }
    slp.msnObject = obj
    if (obj.typeName !== undefined && obj.typeName !== 'reserved') slp.application = obj.typeName
  } else if (slp.application === 'file-transfer') {
    slp.file = decodeFileContext(bytes)
  }
}

const u64 = (b: Buffer, at: number): number | string => {
  const lo = b.readUInt32LE(at), hi = b.readUInt32LE(at + 4)
  return hi < 0x200000 ? hi * 0x100000000 + lo : ((BigInt(hi) << 32n) | BigInt(lo)).toString()
}

/**
 * u32 length (574), u32 version, u64 file size, u32 type (0 = has preview), 520 bytes of UTF-16LE
 * file name (NUL padded), 30 unknown bytes, u32 0xFFFFFFFF, then the preview image if any.
 */
export function decodeFileContext(b: Buffer): FileContext {
  if (b.length < 20) return { fileName: '', fileSize: 0, version: 0, hasPreview: false, error: `file context of ${b.length} bytes, need at least 20` }
  const headerLength = b.readUInt32LE(0)
  const version = b.readUInt32LE(4)
  const fileSize = u64(b, 8)
  const type = b.readUInt32LE(16)
  const nameEnd = Math.min(b.length, 540)
  let fileName = b.toString('utf16le', 20, 20 + ((nameEnd - 20) & ~1))
  const nul = fileName.indexOf('\0')
  if (nul >= 0) fileName = fileName.slice(0, nul)
  const ctx: FileContext = { fileName, fileSize, version, hasPreview: type === 0 }
  if (type === 0 && headerLength >= 20 && b.length > headerLength) ctx.previewLength = b.length - headerLength
  if (b.length < 540) ctx.error = `file context of ${b.length} bytes, file name may be cut`
  return ctx
}
