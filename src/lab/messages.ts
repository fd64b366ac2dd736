/**
 * MSG payloads the lab writes and reads (messages.md): the MIME-like header block, chat texts,
 * typing notifications, nudges, legacy invitations, and the notification server's profile and
 * mail messages. Parsing is lenient (header names case-insensitive, bare LF tolerated) and never
 * throws on peer bytes.
 */

export type HeaderList = readonly (readonly [string, string])[]

/** `Name: value` lines, an empty line, then the body. */
export function buildMime(headers: HeaderList, body: Buffer | string = ''): Buffer {
  const head = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'
  return Buffer.concat([Buffer.from(head, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body])
}

export interface ParsedMime {
  /** lowercase header name -> value (first occurrence) */
  headers: Map<string, string>
  body: Buffer
  /** the Content-Type without parameters, lowercase ('' when missing) */
  contentType: string
}

/** Split a payload into headers and body. A payload without a blank line is all headers. */
export function parseMime(payload: Buffer): ParsedMime {
  let end = payload.indexOf('\r\n\r\n')
  let sepLen = 4
  const lf = payload.indexOf('\n\n')
  if (lf >= 0 && (end < 0 || lf < end)) { end = lf; sepLen = 2 }
  const headText = (end < 0 ? payload : payload.subarray(0, end)).toString('utf8')
  const body = end < 0 ? Buffer.alloc(0) : payload.subarray(end + sepLen)
  const headers = parseHeaderBlock(headText)
  const contentType = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  return { headers, body, contentType }
}

/** `Name: value` lines to a map with lowercase names (the first occurrence wins). */
export function parseHeaderBlock(text: string): Map<string, string> {
  const headers = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim())
  }
  return headers
}

export const DEFAULT_IM_FORMAT = 'FN=Segoe%20UI; EF=; CO=0; CS=0; PF=22'

export function textMessage(text: string, format: string = DEFAULT_IM_FORMAT): Buffer {
  return buildMime([['MIME-Version', '1.0'], ['Content-Type', 'text/plain; charset=UTF-8'], ['X-MMS-IM-Format', format]], text)
}

export function typingMessage(account: string): Buffer {
  return buildMime([['MIME-Version', '1.0'], ['Content-Type', 'text/x-msmsgscontrol'], ['TypingUser', account]], '\r\n')
}

export function nudgeMessage(): Buffer {
  return buildMime([['MIME-Version', '1.0'], ['Content-Type', 'text/x-msnmsgr-datacast']], 'ID: 1\r\n\r\n')
}

export const FILE_TRANSFER_GUID = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}'

/** A `text/x-msmsgsinvite` message whose body is another header block. */
export function inviteMessage(fields: HeaderList): Buffer {
  const body = fields.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'
  return buildMime([['MIME-Version', '1.0'], ['Content-Type', 'text/x-msmsgsinvite; charset=UTF-8']], body)
}

export function fileInviteFields(cookie: string, fileName: string, fileSize: number): HeaderList {
  return [
    ['Application-Name', 'File Transfer'],
    ['Application-GUID', FILE_TRANSFER_GUID],
    ['Invitation-Command', 'INVITE'],
    ['Invitation-Cookie', cookie],
    ['Application-File', fileName],
    ['Application-FileSize', String(fileSize)],
    ['Connectivity', 'N'],
  ]
}

/** The notification server's profile message (messages.md 4.1), headers only. */
export function profileMessage(o: {
  dialect: number; account: string; loginTime: number; ticket: string; clientIp: string; clientPort: number; memberId: [number, number]
}): Buffer {
  const h: [string, string][] = [
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/x-msmsgsprofile; charset=UTF-8'],
    ['LoginTime', String(o.loginTime)],
    ['EmailEnabled', '1'],
    ['MemberIdHigh', String(o.memberId[0])],
    ['MemberIdLow', String(o.memberId[1])],
    ['lang_preference', '1033'],
    ['preferredEmail', o.account],
    ['country', 'US'],
    ['PostalCode', ''],
    ['Gender', ''],
    ['Kid', '0'],
    ['Age', ''],
    ['BDayPre', ''],
    ['Birthday', ''],
    ['Wallet', ''],
    ['Flags', '1027'],
    ['sid', '507'],
    ['kv', o.dialect >= 8 ? '5' : '2'],
    ['MSPAuth', o.ticket],
  ]
  if (o.dialect >= 8) h.push(['ClientIP', o.clientIp], ['ClientPort', String(o.clientPort)])
  if (o.dialect >= 10) h.push(['ABCHMigrated', '1'])
  if (o.dialect >= 16) h.push(['MPOPEnabled', '1'])
  return buildMime(h)
}

export function initialEmailMessage(): Buffer {
  return buildMime(
    [['MIME-Version', '1.0'], ['Content-Type', 'text/x-msmsgsinitialemailnotification; charset=UTF-8']],
    'Inbox-Unread: 0\r\nFolders-Unread: 0\r\nInbox-URL: /cgi-bin/HoTMaiL\r\nFolders-URL: /cgi-bin/folders\r\nPost-URL: http://www.hotmail.com\r\n\r\n',
  )
}

/** The policy document pushed with `GCF 0 <len>` during MSNP15+ logins. */
export const SHIELDS_XML =
  '<?xml version="1.0" encoding="utf-8" ?><Policies><Policy type="SHIELDS"><config><shield><cli maj="7" min="0" minbld="0" maxbld="9999" deny=" " /></shield><block></block></config></Policy></Policies>'

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }
export const xmlEscape = (s: string): string => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!)
export const xmlUnescape = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ?? '')

/** The UUX/UBX personal-message document (MSNP11+). */
export function psmDocument(psm: string): Buffer {
  return Buffer.from(`<Data><PSM>${xmlEscape(psm)}</PSM><CurrentMedia></CurrentMedia></Data>`, 'utf8')
}

/** The PSM text of a `<Data>` document, or null when the payload is not one. */
export function psmOf(payload: Buffer): string | null {
  const text = payload.toString('utf8')
  if (!/^\s*<Data[\s>]/.test(text)) return null
  const m = /<PSM>([\s\S]*?)<\/PSM>/.exec(text)
  return m === null ? '' : xmlUnescape(m[1]!)
}

/** URL-encode a friendly name or property value the way clients write them on command lines. */
export const encodeWireText = (s: string): string => encodeURIComponent(s)

/** Decode a URL-encoded token; a malformed escape leaves the token as it is. */
export function decodeWireText(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}
