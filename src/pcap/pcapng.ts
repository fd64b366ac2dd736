/**
 * Push reader for pcapng: section header, interface description, enhanced, simple and (obsolete)
 * packet blocks, any number of sections and interfaces, either byte order per section, per-
 * interface timestamp resolution and offset. Other blocks (name resolution, statistics, custom)
 * are skipped. Pure: bytes in, records out; damage becomes an `issue` and stops the reader.
 */
import type { CaptureRecord, ReadIssue } from './pcap-file.js'

const SHB = 0x0a0d0d0a
const IDB = 1
const PB = 2
const SPB = 3
const EPB = 6
const BYTE_ORDER_MAGIC = 0x1a2b3c4d
/** Larger blocks are taken for damage (real ones hold one packet). */
export const MAX_BLOCK_LENGTH = 64 * 1024 * 1024

export interface PcapngInterface {
  linkType: number
  snapLength: number
  /** timestamp units per second (10^6 unless if_tsresol says otherwise) */
  unitsPerSecond: number
  /** if_tsoffset: seconds added to every timestamp */
  offsetSeconds: number
}

export class PcapngReader {
  issue: ReadIssue | null = null
  records = 0
  /** interfaces of the current section, in order of their description blocks */
  interfaces: PcapngInterface[] = []
  /** every link type seen in any section */
  readonly linkTypes = new Set<number>()
  #le = true
  #sectionSeen = false
  #rest: Buffer = Buffer.alloc(0)
  #offset = 0
  /** time of the last timestamped packet, given to simple packet blocks (which carry none) */
  #lastTs = 0

  push(chunk: Buffer): CaptureRecord[] {
    const out: CaptureRecord[] = []
    if (this.issue !== null) return out
    const buf = this.#rest.length === 0 ? chunk : Buffer.concat([this.#rest, chunk])
    let pos = 0
    while (buf.length - pos >= 12) {
      const type = buf.readUInt32BE(pos) === SHB ? SHB : this.#u32(buf, pos)
      if (type === SHB) {
        const bom = buf.readUInt32BE(pos + 8)
        if (bom === BYTE_ORDER_MAGIC) this.#le = false
        else if (bom === 0x4d3c2b1a) this.#le = true
        else { this.#fail(pos, 'section header with an unknown byte-order magic'); break }
      } else if (!this.#sectionSeen) { this.#fail(pos, 'pcapng data before any section header'); break }
      const len = this.#u32(buf, pos + 4)
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK_LENGTH) { this.#fail(pos, `block of type ${type} claims ${len} bytes: the file is damaged from here`); break }
      if (buf.length - pos < len) break
      if (this.#u32(buf, pos + len - 4) !== len) { this.#fail(pos, `block of type ${type} has mismatched lengths: the file is damaged from here`); break }
      const issue = this.#block(type, buf, pos, len, out)
      if (issue !== null) { this.#fail(pos, issue); break }
      pos += len
    }
    if (this.issue !== null) { this.#rest = Buffer.alloc(0); return out }
    this.#rest = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos))
    this.#offset += pos
    return out
  }

  end(): ReadIssue | null {
    if (this.issue !== null) return this.issue
    if (!this.#sectionSeen) this.issue = { offset: 0, message: this.#rest.length === 0 ? 'empty file' : 'file ends inside the first section header' }
    else if (this.#rest.length > 0) this.issue = { offset: this.#offset, message: `capture truncated inside a block after record ${this.records} (${this.#rest.length} bytes left over)` }
    return this.issue
  }

  #fail(pos: number, message: string): void {
    this.issue = { offset: this.#offset + pos, message }
  }

  #u32(buf: Buffer, o: number): number { return this.#le ? buf.readUInt32LE(o) : buf.readUInt32BE(o) }
  #u16(buf: Buffer, o: number): number { return this.#le ? buf.readUInt16LE(o) : buf.readUInt16BE(o) }

  /** Handle one whole block; a string says why it is unusable. */
  #block(type: number, buf: Buffer, pos: number, len: number, out: CaptureRecord[]): string | null {
    const body = pos + 8
    const bodyEnd = pos + len - 4
    switch (type) {
      case SHB:
        if (len < 28) return 'section header block too short'
        this.#sectionSeen = true
        this.interfaces = []
        return null
      case IDB: {
        if (len < 20) return 'interface description block too short'
        const iface: PcapngInterface = { linkType: this.#u16(buf, body), snapLength: this.#u32(buf, body + 4), unitsPerSecond: 1e6, offsetSeconds: 0 }
        this.#options(buf, body + 8, bodyEnd, (code, o, n) => {
          if (code === 9 && n >= 1) {
            const r = buf.readUInt8(o)
            iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r
          } else if (code === 14 && n >= 8) {
            iface.offsetSeconds = Number(this.#le ? buf.readBigInt64LE(o) : buf.readBigInt64BE(o))
          }
        })
        this.interfaces.push(iface)
        this.linkTypes.add(iface.linkType)
        return null
      }
      case EPB:
      case PB: {
        if (len < 32) return 'packet block too short'
        const id = type === EPB ? this.#u32(buf, body) : this.#u16(buf, body)
        const iface = this.interfaces[id]
        if (iface === undefined) return `packet on interface ${id}, which no interface block described`
        const caplen = this.#u32(buf, body + 12)
        const data = body + 20
        if (data + caplen > bodyEnd) return 'packet block shorter than its captured length'
        this.#lastTs = this.#timestamp(iface, this.#u32(buf, body + 4), this.#u32(buf, body + 8))
        out.push({ linkType: iface.linkType, tsUs: this.#lastTs, data: buf.subarray(data, data + caplen), origLength: this.#u32(buf, body + 16) })
        this.records++
        return null
      }
      case SPB: {
        const iface = this.interfaces[0]
        if (iface === undefined) return 'simple packet block before any interface block'
        const orig = this.#u32(buf, body)
        let caplen = Math.min(orig, bodyEnd - body - 4)
        if (iface.snapLength > 0) caplen = Math.min(caplen, iface.snapLength)
        // a simple packet block has no timestamp: it takes the previous packet's
        out.push({ linkType: iface.linkType, tsUs: this.#lastTs, data: buf.subarray(body + 4, body + 4 + caplen), origLength: orig })
        this.records++
        return null
      }
      default:
        return null
    }
  }

  #options(buf: Buffer, at: number, end: number, each: (code: number, offset: number, length: number) => void): void {
    let o = at
    while (end - o >= 4) {
      const code = this.#u16(buf, o)
      const n = this.#u16(buf, o + 2)
      if (code === 0 || o + 4 + n > end) return
      each(code, o + 4, n)
      o += 4 + ((n + 3) & ~3)
    }
  }

  #timestamp(iface: PcapngInterface, high: number, low: number): number {
    const off = iface.offsetSeconds * 1e6
    if (iface.unitsPerSecond === 1e6) return high * 4294967296 + low + off
    const units = (BigInt(high) << 32n) | BigInt(low)
    const ups = BigInt(iface.unitsPerSecond)
    // whole seconds and the remainder apart, so nanosecond counts keep their precision
    const sec = units / ups
    const rem = units % ups
    return Number(sec) * 1e6 + Number((rem * 1000000n) / ups) + off
  }
}
