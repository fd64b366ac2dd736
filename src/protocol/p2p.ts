/**
 * The binary part of `application/x-msnmsgrp2p` MSG payloads (messages.md section 5): the 48-byte
 * little-endian v1 header or the variable big-endian v2 header, the body (MSNSLP signalling or a
 * data chunk) and the 4-byte big-endian AppID footer. Binary data is reported by length and a
 * short hex preview, never as bytes. Never throws; inconsistent lengths give an `error`.
 */
import { hexPreview } from './mime.js'
import { decodeSlp, isSlpStart, type SlpMessage } from './slp.js'

export const P2P_V1_HEADER = 48
const FOOTER = 4

/** Flag bits of the v1 header (pidgin's meanings; papyon's NAK/ACK/RAK/RST/... are the same bits). */
export const P2P_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x1, 'nak'], [0x2, 'ack'], [0x4, 'pending-invite'], [0x8, 'binary-error'], [0x10, 'file'],
  [0x20, 'msnobject-data'], [0x40, 'close'], [0x80, 'tlp-error'], [0x100, 'dc-handshake'], [0x1000000, 'wlm2009'],
]

export const P2P_APP_IDS: Readonly<Record<number, string>> = {
  0: 'msnslp', 1: 'msnobject', 2: 'file-transfer', 11: 'custom-emoticon', 12: 'display-picture',
}

export interface P2PHeaderV1 {
  sessionId: number
  identifier: number
  /** 64-bit fields are numbers when exact, decimal strings beyond 2^53 */
  offset: number | string
  totalSize: number | string
  messageSize: number
  flags: number
  flagNames: string[]
  ackedIdentifier: number
  ackedUniqueId: number
  ackedDataSize: number | string
}

export interface P2PTlv { type: number; name?: string; value: number | string }

export interface P2PHeaderV2 {
  headerLength: number
  opcode: number
  opcodeNames: string[]
  messageLength: number
  /** sequence number of the first byte (base id) */
  sequence: number
  tlvs: P2PTlv[]
  /** acknowledged / negatively acknowledged sequence numbers from the TLVs */
  ack?: number
  nak?: number
  dataHeader?: {
    length: number
    tf: number
    tfName: string
    first: boolean
    packageNumber: number
    sessionId: number
    bytesRemaining?: number | string
    tlvs: P2PTlv[]
  }
}

/** The P2P-specific fields of a decoded payload (merged into the MSG payload object). */
export interface P2PInfo {
  version: 1 | 2
  header?: P2PHeaderV1 | P2PHeaderV2
  appId?: number
  appName?: string
  /** what the body is: ack, slp, slp-continuation, data-preparation, data, empty */
  bodyType?: string
  dataLength: number
  preview?: string
  slp?: SlpMessage
  fileName?: string
  fileSize?: number | string
  error?: string
}

const u64le = (b: Buffer, at: number): number | string => {
  const lo = b.readUInt32LE(at), hi = b.readUInt32LE(at + 4)
  return hi < 0x200000 ? hi * 0x100000000 + lo : ((BigInt(hi) << 32n) | BigInt(lo)).toString()
}

const u64be = (b: Buffer, at: number): number | string => {
  const hi = b.readUInt32BE(at), lo = b.readUInt32BE(at + 4)
  return hi < 0x200000 ? hi * 0x100000000 + lo : ((BigInt(hi) << 32n) | BigInt(lo)).toString()
}

const flagNameCache = new Map<number, readonly string[]>()

function flagNames(flags: number): string[] {
  const hit = flagNameCache.get(flags)
  if (hit !== undefined) return hit.slice()
  const out: string[] = []
  let rest = flags
  for (const [bit, name] of P2P_FLAGS) if ((flags & bit) !== 0) { out.push(name); rest &= ~bit }
  if (rest !== 0) out.push(`0x${(rest >>> 0).toString(16)}`)
  if (flagNameCache.size < 256) flagNameCache.set(flags, out.slice())
  return out
}

/** v1 is consistent when the header's chunk length matches the bytes present (footer or not). */
function v1Fits(buf: Buffer, start: number): boolean {
  const avail = buf.length - start
  if (avail < P2P_V1_HEADER) return false
  const size = buf.readUInt32LE(start + 24)
  return avail === P2P_V1_HEADER + size + FOOTER || avail === P2P_V1_HEADER + size
}

function v2Fits(buf: Buffer, start: number): boolean {
  const avail = buf.length - start
  if (avail < 8) return false
  const hl = buf.readUInt8(start), op = buf.readUInt8(start + 1), ml = buf.readUInt16BE(start + 2)
  if (hl < 8 || op > 3 || hl > avail) return false
  if (hl + ml !== avail && hl + ml + FOOTER !== avail) return false
  return ml === 0 || (ml >= 8 && buf.readUInt8(start + hl) >= 8 && buf.readUInt8(start + hl) <= ml)
}

/**
 * Decode the P2P body that starts at `start` (just after the MIME header block). The version is
 * told apart by which header layout agrees with the byte count: a session only uses v2 when both
 * sides advertised it, and that is not visible in the MSG itself.
 */
export function decodeP2P<T extends object>(buf: Buffer, start: number, into?: T): T & P2PInfo {
  // the fields go straight into the caller's payload object: copying them over costs more than decoding
  const info = (into ?? {}) as T & P2PInfo
  if (!v1Fits(buf, start) && v2Fits(buf, start)) decodeV2(buf, start, info)
  else decodeV1(buf, start, info)
  return info
}

function decodeV1(buf: Buffer, start: number, info: P2PInfo): void {
  const avail = buf.length - start
  info.version = 1
  if (avail < P2P_V1_HEADER) {
    info.dataLength = 0
    info.error = `P2P header needs 48 bytes, got ${avail}`
    if (avail > 0) info.preview = hexPreview(buf, start, buf.length)
    return
  }
  const flags = buf.readUInt32LE(start + 28)
  const header: P2PHeaderV1 = {
    sessionId: buf.readUInt32LE(start),
    identifier: buf.readUInt32LE(start + 4),
    offset: u64le(buf, start + 8),
    totalSize: u64le(buf, start + 16),
    messageSize: buf.readUInt32LE(start + 24),
    flags,
    flagNames: flagNames(flags),
    ackedIdentifier: buf.readUInt32LE(start + 32),
    ackedUniqueId: buf.readUInt32LE(start + 36),
    ackedDataSize: u64le(buf, start + 40),
  }
  const bodyStart = start + P2P_V1_HEADER
  info.header = header
  info.dataLength = 0
  let bodyEnd = bodyStart + header.messageSize
  if (avail === P2P_V1_HEADER + header.messageSize + FOOTER) footer(info, buf, bodyEnd)
  else if (avail !== P2P_V1_HEADER + header.messageSize) {
    info.error = `P2P header announces ${header.messageSize} body bytes, ${avail - P2P_V1_HEADER} present`
    bodyEnd = Math.min(bodyEnd, buf.length)
  }
  classify(info, buf, bodyStart, bodyEnd, header.sessionId, header.offset === 0, header.flags, header.totalSize)
}

function footer(info: P2PInfo, buf: Buffer, at: number): void {
  const appId = buf.readUInt32BE(at)
  info.appId = appId
  const name = P2P_APP_IDS[appId]
  if (name !== undefined) info.appName = name
}

function classify(info: P2PInfo, buf: Buffer, from: number, to: number, sessionId: number, first: boolean, flags: number, totalSize: number | string): void {
  info.dataLength = to - from
  if (to <= from) {
    info.bodyType = (flags & 0x2) !== 0 ? 'ack' : 'empty'
    return
  }
  if (first && isSlpStart(buf, from, to)) {
    info.bodyType = 'slp'
    const slp = decodeSlp(buf, from, to)
    info.slp = slp
    if (slp.file !== undefined) {
      info.fileName = slp.file.fileName
      info.fileSize = slp.file.fileSize
    }
    return
  }
  info.preview = hexPreview(buf, from, to)
  if (sessionId === 0) info.bodyType = 'slp-continuation'
  else if (first && to - from === 4 && totalSize === 4 && buf.readUInt32LE(from) === 0) info.bodyType = 'data-preparation'
  else info.bodyType = 'data'
}

const V2_HEADER_TLVS: Readonly<Record<number, string>> = { 1: 'peer-info', 2: 'ack', 3: 'nak' }

function readTlvs(buf: Buffer, from: number, to: number, names: Readonly<Record<number, string>>): P2PTlv[] {
  const out: P2PTlv[] = []
  let p = from
  while (p + 2 <= to) {
    const type = buf.readUInt8(p), len = buf.readUInt8(p + 1)
    if (type === 0) break // padding
    const vEnd = Math.min(p + 2 + len, to)
    const tlv: P2PTlv = { type, value: len === 4 && vEnd - p - 2 === 4 ? buf.readUInt32BE(p + 2) : len === 8 && vEnd - p - 2 === 8 ? u64be(buf, p + 2) : buf.toString('hex', p + 2, vEnd) }
    const name = names[type]
    if (name !== undefined) tlv.name = name
    out.push(tlv)
    p += 2 + len
  }
  return out
}

const TF_NAMES: Readonly<Record<number, string>> = { 0: 'control', 4: 'msnobject', 6: 'file' }

function decodeV2(buf: Buffer, start: number, info: P2PInfo): void {
  const hl = buf.readUInt8(start), opcode = buf.readUInt8(start + 1), ml = buf.readUInt16BE(start + 2)
  const tlvs = readTlvs(buf, start + 8, start + hl, V2_HEADER_TLVS)
  const opcodeNames: string[] = []
  if ((opcode & 1) !== 0) opcodeNames.push('syn')
  if ((opcode & 2) !== 0) opcodeNames.push('rak')
  const header: P2PHeaderV2 = { headerLength: hl, opcode, opcodeNames, messageLength: ml, sequence: buf.readUInt32BE(start + 4), tlvs }
  for (const t of tlvs) {
    if (t.type === 2 && typeof t.value === 'number') header.ack = t.value
    if (t.type === 3 && typeof t.value === 'number') header.nak = t.value
  }
  info.version = 2
  info.header = header
  info.dataLength = 0
  const msgEnd = start + hl + ml
  if (msgEnd + FOOTER === buf.length) footer(info, buf, msgEnd)
  if (ml === 0) { info.bodyType = header.ack !== undefined ? 'ack' : 'empty'; return }
  const d = start + hl
  const dl = buf.readUInt8(d), tf = buf.readUInt8(d + 1)
  const dtlvs = readTlvs(buf, d + 8, d + dl, { 1: 'bytes-remaining' })
  const dataHeader: NonNullable<P2PHeaderV2['dataHeader']> = {
    length: dl, tf, tfName: TF_NAMES[tf & ~1] ?? `0x${tf.toString(16)}`, first: (tf & 1) !== 0,
    packageNumber: buf.readUInt16BE(d + 2), sessionId: buf.readUInt32BE(d + 4), tlvs: dtlvs,
  }
  for (const t of dtlvs) if (t.type === 1) dataHeader.bytesRemaining = t.value
  header.dataHeader = dataHeader
  const first = dataHeader.first || dataHeader.sessionId === 0
  classify(info, buf, d + dl, msgEnd, dataHeader.sessionId, first, 0, -1)
}
