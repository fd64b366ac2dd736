/**
 * P2P (MSNC v1) messages over a switchboard (messages.md section 5, TV7): the 48-byte
 * little-endian binary header, the 4-byte big-endian AppID footer, the MSNSLP INVITE of a
 * display-picture request, and the acknowledgement a receiver sends for a whole message.
 */
import { createHash } from 'node:crypto'
import { buildMime, parseMime } from './messages.js'

export const P2P_HEADER_SIZE = 48
export const P2P_FLAG_ACK = 0x2

export interface P2PHeader {
  sessionId: number
  identifier: number
  offset: number
  totalSize: number
  messageLength: number
  flags: number
  ackIdentifier: number
  ackUniqueId: number
  ackDataSize: number
}

export function encodeP2PHeader(h: P2PHeader): Buffer {
  const b = Buffer.alloc(P2P_HEADER_SIZE)
  b.writeUInt32LE(h.sessionId >>> 0, 0)
  b.writeUInt32LE(h.identifier >>> 0, 4)
  b.writeBigUInt64LE(BigInt(h.offset), 8)
  b.writeBigUInt64LE(BigInt(h.totalSize), 16)
  b.writeUInt32LE(h.messageLength >>> 0, 24)
  b.writeUInt32LE(h.flags >>> 0, 28)
  b.writeUInt32LE(h.ackIdentifier >>> 0, 32)
  b.writeUInt32LE(h.ackUniqueId >>> 0, 36)
  b.writeBigUInt64LE(BigInt(h.ackDataSize), 40)
  return b
}

export function decodeP2PHeader(b: Buffer): P2PHeader | null {
  if (b.length < P2P_HEADER_SIZE) return null
  return {
    sessionId: b.readUInt32LE(0),
    identifier: b.readUInt32LE(4),
    offset: Number(b.readBigUInt64LE(8)),
    totalSize: Number(b.readBigUInt64LE(16)),
    messageLength: b.readUInt32LE(24),
    flags: b.readUInt32LE(28),
    ackIdentifier: b.readUInt32LE(32),
    ackUniqueId: b.readUInt32LE(36),
    ackDataSize: Number(b.readBigUInt64LE(40)),
  }
}

/** The MSG payload carrying one P2P chunk: MIME headers, binary header, body, footer. */
export function p2pMessage(dest: string, header: P2PHeader, body: Buffer, appId = 0): Buffer {
  const footer = Buffer.alloc(4)
  footer.writeUInt32BE(appId >>> 0, 0)
  return buildMime(
    [['MIME-Version', '1.0'], ['Content-Type', 'application/x-msnmsgrp2p'], ['P2P-Dest', dest]],
    Buffer.concat([encodeP2PHeader(header), body, footer]),
  )
}

export interface ParsedP2P {
  dest: string
  header: P2PHeader
  body: Buffer
  appId: number
}

/** Reads a P2P MSG payload; null when it is not a well-formed one (the SB answers 282). */
export function parseP2PMessage(payload: Buffer): ParsedP2P | null {
  const mime = parseMime(payload)
  if (mime.contentType !== 'application/x-msnmsgrp2p') return null
  const bin = mime.body
  if (bin.length < P2P_HEADER_SIZE + 4) return null
  const header = decodeP2PHeader(bin)
  if (header === null) return null
  const body = bin.subarray(P2P_HEADER_SIZE, bin.length - 4)
  if (body.length !== header.messageLength) return null
  return { dest: mime.headers.get('p2p-dest') ?? '', header, body, appId: bin.readUInt32BE(bin.length - 4) }
}

/** The acknowledgement of a complete message (TV7: Flags 0x2, the acked ids and size). */
export function p2pAckHeader(acked: P2PHeader, identifier: number): P2PHeader {
  return {
    sessionId: acked.sessionId,
    identifier,
    offset: 0,
    totalSize: acked.totalSize,
    messageLength: 0,
    flags: P2P_FLAG_ACK,
    ackIdentifier: acked.identifier,
    ackUniqueId: acked.ackIdentifier,
    ackDataSize: acked.totalSize,
  }
}

/** A display-picture MSNObject for an account, with SHA1D/SHA1C computed over made-up data. */
export function displayPictureObject(account: string, data: Buffer = Buffer.from(`picture of ${account}`)): string {
  const sha1d = createHash('sha1').update(data).digest('base64')
  const location = 'TFR' + createHash('md5').update(account).digest('hex').slice(0, 4).toUpperCase() + '.dat'
  const fields: [string, string][] = [
    ['Creator', account], ['Size', String(data.length)], ['Type', '3'], ['Location', location], ['Friendly', 'AAA='], ['SHA1D', sha1d],
  ]
  const sha1c = createHash('sha1').update(fields.map(([k, v]) => k + v).join('')).digest('base64')
  fields.push(['SHA1C', sha1c])
  return `<msnobj ${fields.map(([k, v]) => `${k}="${v}"`).join(' ')}/>`
}

const EUF_MSNOBJECT = '{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}'

/** A random `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}` from the given random bytes (16). */
export function guidFrom(bytes: Buffer): string {
  const h = bytes.toString('hex').toUpperCase().padEnd(32, '0')
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}}`
}

/** The MSNSLP INVITE asking `to` for the object `msnobj` (TV7), body ending in a NUL byte. */
export function slpInvite(o: { from: string; to: string; msnobj: string; sessionId: number; branch: string; callId: string }): Buffer {
  const context = Buffer.from(o.msnobj + '\0', 'utf8').toString('base64')
  const body = Buffer.from(`EUF-GUID: ${EUF_MSNOBJECT}\r\nSessionID: ${o.sessionId}\r\nAppID: 1\r\nContext: ${context}\r\n\r\n\0`, 'utf8')
  const head =
    `INVITE MSNMSGR:${o.to} MSNSLP/1.0\r\n` +
    `To: <msnmsgr:${o.to}>\r\n` +
    `From: <msnmsgr:${o.from}>\r\n` +
    `Via: MSNSLP/1.0/TLP ;branch=${o.branch}\r\n` +
    'CSeq: 0\r\n' +
    `Call-ID: ${o.callId}\r\n` +
    'Max-Forwards: 0\r\n' +
    'Content-Type: application/x-msnmsgr-sessionreqbody\r\n' +
    `Content-Length: ${body.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'utf8'), body])
}

/** The first line of an MSNSLP message ("INVITE MSNMSGR:... MSNSLP/1.0"), or null for binary data. */
export function slpStartLine(body: Buffer): string | null {
  const end = body.indexOf('\r\n')
  if (end <= 0) return null
  const line = body.subarray(0, end).toString('utf8')
  return /^(INVITE|BYE|ACK|MSNSLP\/1\.0) /.test(line) ? line : null
}
