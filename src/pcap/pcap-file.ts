/**
 * Capture files as records. This folder turns capture bytes into records, records into TCP
 * segments and segments into reassembled byte streams with a side; it does no I/O, keeps no
 * clock and never throws on file contents: damage is reported as data (`issue`), and every
 * record before the damage is still returned.
 *
 * This file: what kind of file a capture is (`sniffFormat`) and a push reader for classic pcap
 * in all four variants (microsecond or nanosecond, either byte order). msnscope reads
 * microsecond files with pcap-parser; this reader covers the nanosecond ones and serves as the
 * reference the tests hold pcap-parser to.
 */

/** One captured packet. */
export interface CaptureRecord {
  linkType: number
  /** capture time in microseconds since the Unix epoch (finer resolutions are truncated) */
  tsUs: number
  data: Buffer
  /** length of the packet on the wire; `data` is shorter when the capture cut it (snap length) */
  origLength: number
}

export type CaptureFormat = 'pcap' | 'pcapng' | 'gzip' | 'jsonl' | 'unknown'

export interface SniffResult {
  format: CaptureFormat
  /** classic pcap only */
  littleEndian?: boolean
  nanosecond?: boolean
}

/** Magic numbers of classic pcap as read big-endian from the first four bytes. */
const PCAP_MAGICS: ReadonlyMap<number, { littleEndian: boolean; nanosecond: boolean }> = new Map([
  [0xa1b2c3d4, { littleEndian: false, nanosecond: false }],
  [0xd4c3b2a1, { littleEndian: true, nanosecond: false }],
  [0xa1b23c4d, { littleEndian: false, nanosecond: true }],
  [0x4d3cb2a1, { littleEndian: true, nanosecond: true }],
])

export const PCAP_HEADER_LENGTH = 24
const RECORD_HEADER_LENGTH = 16
/** Largest record accepted: more than any real snap length, less than a damaged length field. */
export const MAX_RECORD_LENGTH = 16 * 1024 * 1024

/** What the first bytes of a file say it is; null while fewer than 4 bytes are known. */
export function sniffFormat(head: Buffer): SniffResult | null {
  if (head.length >= 2 && head.readUInt8(0) === 0x1f && head.readUInt8(1) === 0x8b) return { format: 'gzip' }
  if (head.length >= 1 && head.readUInt8(0) === 0x7b) return { format: 'jsonl' } // '{'
  if (head.length < 4) return null
  const magic = head.readUInt32BE(0)
  const classic = PCAP_MAGICS.get(magic)
  if (classic !== undefined) return { format: 'pcap', ...classic }
  if (magic === 0x0a0d0d0a) return { format: 'pcapng' }
  return { format: 'unknown' }
}

export interface PcapHeader {
  littleEndian: boolean
  nanosecond: boolean
  versionMajor: number
  versionMinor: number
  snapLength: number
  linkType: number
}

/** The 24-byte file header; a string says why it is not one. */
export function parsePcapHeader(buf: Buffer): PcapHeader | string {
  if (buf.length < PCAP_HEADER_LENGTH) return `file ends inside the pcap header (${buf.length} of 24 bytes)`
  const kind = PCAP_MAGICS.get(buf.readUInt32BE(0))
  if (kind === undefined) return `not a pcap file (magic 0x${buf.readUInt32BE(0).toString(16).padStart(8, '0')})`
  const le = kind.littleEndian
  const u16 = (o: number): number => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o))
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const versionMajor = u16(4)
  if (versionMajor !== 2) return `unsupported pcap version ${versionMajor}.${u16(6)}`
  // the top bits of the link type field hold an FCS length on some writers
  return { ...kind, versionMajor, versionMinor: u16(6), snapLength: u32(16), linkType: u32(20) & 0x0fffffff }
}

/** A damage report: where reading stopped and why. */
export interface ReadIssue {
  /** byte offset in the (decompressed) file where the damaged part starts */
  offset: number
  message: string
}

/**
 * Push reader for classic pcap. `push` returns the records completed by a chunk; `end` says
 * whether the file stopped cleanly. After a damaged record it stops (records have no markers to
 * resynchronise on) and reports where.
 */
export class PcapReader {
  header: PcapHeader | null = null
  issue: ReadIssue | null = null
  records = 0
  #rest: Buffer = Buffer.alloc(0)
  /** file offset of #rest[0] */
  #offset = 0

  push(chunk: Buffer): CaptureRecord[] {
    const out: CaptureRecord[] = []
    if (this.issue !== null) return out
    const buf = this.#rest.length === 0 ? chunk : Buffer.concat([this.#rest, chunk])
    let pos = 0
    if (this.header === null) {
      if (buf.length < PCAP_HEADER_LENGTH) { this.#rest = buf; return out }
      const h = parsePcapHeader(buf)
      if (typeof h === 'string') { this.issue = { offset: 0, message: h }; return out }
      this.header = h
      pos = PCAP_HEADER_LENGTH
    }
    const { littleEndian: le, nanosecond: ns, linkType } = this.header
    while (buf.length - pos >= RECORD_HEADER_LENGTH) {
      const sec = le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos)
      const frac = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos + 4)
      const incl = le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8)
      const orig = le ? buf.readUInt32LE(pos + 12) : buf.readUInt32BE(pos + 12)
      if (incl > MAX_RECORD_LENGTH) {
        this.issue = { offset: this.#offset + pos, message: `record ${this.records + 1} claims ${incl} bytes: the file is damaged from here` }
        this.#rest = Buffer.alloc(0)
        return out
      }
      if (buf.length - pos - RECORD_HEADER_LENGTH < incl) break
      const start = pos + RECORD_HEADER_LENGTH
      out.push({ linkType, tsUs: sec * 1e6 + (ns ? Math.floor(frac / 1000) : frac), data: buf.subarray(start, start + incl), origLength: orig })
      this.records++
      pos = start + incl
    }
    // keep only the unread tail, copied so the chunk it came in can be released
    this.#rest = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos))
    this.#offset += pos
    return out
  }

  /** The file ended: null when it ended on a record boundary, else what was cut off. */
  end(): ReadIssue | null {
    if (this.issue !== null) return this.issue
    if (this.header === null) {
      this.issue = { offset: 0, message: this.#rest.length === 0 ? 'empty file' : `file ends inside the pcap header (${this.#rest.length} of 24 bytes)` }
    } else if (this.#rest.length > 0) {
      this.issue = { offset: this.#offset, message: truncationMessage(this.records, this.#rest, this.header.littleEndian) }
    }
    return this.issue
  }
}

/** "capture truncated: record 51 has 200 of 1514 bytes" for a cut-off pcap tail. */
export function truncationMessage(records: number, rest: Buffer, littleEndian: boolean): string {
  if (rest.length < RECORD_HEADER_LENGTH) return `capture truncated inside the header of record ${records + 1} (${rest.length} of 16 bytes)`
  const incl = littleEndian ? rest.readUInt32LE(8) : rest.readUInt32BE(8)
  return `capture truncated: record ${records + 1} has ${rest.length - RECORD_HEADER_LENGTH} of its ${incl} bytes`
}
