/**
 * IPv4 and IPv6: addresses, protocol and payload bounds of a packet, with IPv6 extension headers
 * skipped and fragments of both versions reassembled. Checksums are not verified: captures taken
 * on the sending host hold offloaded (unfilled) checksums, and a zero total length (segmentation
 * offload) means "as long as the frame". A datagram whose fragments never all arrive is dropped
 * after a while; the TCP layer then sees the hole and reports it as a gap.
 */

/** One IP packet; offsets point into `data` (the frame, or a reassembled datagram). */
export interface IpView {
  version: 4 | 6
  data: Buffer
  srcOff: number
  dstOff: number
  addrLen: 4 | 16
  protocol: number
  payloadOff: number
  payloadEnd: number
  /** bytes of the payload missing from the capture (cut by the snap length) */
  lost: number
}

export const newIpView = (): IpView => ({ version: 4, data: Buffer.alloc(0), srcOff: 0, dstOff: 0, addrLen: 4, protocol: 0, payloadOff: 0, payloadEnd: 0, lost: 0 })

export interface IpDecoderOptions {
  /** datagrams being reassembled at once (the oldest is dropped beyond) */
  maxDatagrams?: number
  /** capture time after which an incomplete datagram is dropped */
  maxAgeUs?: number
}

interface Piece { off: number; data: Buffer }
interface Reassembly {
  addrs: Buffer
  addrLen: 4 | 16
  version: 4 | 6
  protocol: number
  pieces: Piece[]
  /** payload length, known once the last fragment arrived */
  total: number
  firstUs: number
}

const EXT_HEADERS = new Set([0, 43, 60, 135, 139, 140])
const FRAGMENT = 44
const AH = 51
const MAX_DATAGRAM = 65535

export class IpDecoder {
  readonly maxDatagrams: number
  readonly maxAgeUs: number
  /** fragments seen, datagrams rebuilt, datagrams given up on */
  readonly stats = { fragments: 0, reassembled: 0, dropped: 0 }
  readonly #pending = new Map<string, Reassembly>()

  constructor(options: IpDecoderOptions = {}) {
    this.maxDatagrams = options.maxDatagrams ?? 256
    this.maxAgeUs = options.maxAgeUs ?? 30e6
  }

  /** Fill `out` from the IP header at `off`. False: not IP, damaged, or a fragment still waiting. */
  decode(frame: Buffer, off: number, tsUs: number, out: IpView): boolean {
    if (frame.length - off < 1) return false
    const version = frame.readUInt8(off) >> 4
    if (version === 4) return this.#v4(frame, off, tsUs, out)
    if (version === 6) return this.#v6(frame, off, tsUs, out)
    return false
  }

  #v4(b: Buffer, off: number, tsUs: number, out: IpView): boolean {
    if (b.length - off < 20) return false
    const ihl = (b.readUInt8(off) & 0x0f) * 4
    if (ihl < 20 || b.length - off < ihl) return false
    const total = b.readUInt16BE(off + 2)
    let end = total === 0 ? b.length : off + total
    if (end < off + ihl) return false
    let lost = 0
    if (end > b.length) { lost = end - b.length; end = b.length }
    const protocol = b.readUInt8(off + 9)
    const frag = b.readUInt16BE(off + 6)
    const more = (frag & 0x2000) !== 0
    const fragOff = (frag & 0x1fff) * 8
    if (more || fragOff > 0) {
      if (lost > 0) { this.stats.dropped++; return false }
      const key = b.toString('latin1', off + 12, off + 20) + b.toString('latin1', off + 4, off + 6) + String.fromCharCode(protocol)
      return this.#fragment(key, 4, b.subarray(off + 12, off + 20), protocol, fragOff, more, b.subarray(off + ihl, end), tsUs, out)
    }
    out.version = 4; out.data = b; out.srcOff = off + 12; out.dstOff = off + 16; out.addrLen = 4
    out.protocol = protocol; out.payloadOff = off + ihl; out.payloadEnd = end; out.lost = lost
    return true
  }

  #v6(b: Buffer, off: number, tsUs: number, out: IpView): boolean {
    if (b.length - off < 40) return false
    const plen = b.readUInt16BE(off + 4)
    let end = plen === 0 ? b.length : off + 40 + plen
    let lost = 0
    if (end > b.length) { lost = end - b.length; end = b.length }
    let nh = b.readUInt8(off + 6)
    let p = off + 40
    while (EXT_HEADERS.has(nh) || nh === AH || nh === FRAGMENT) {
      if (end - p < 8) return false
      if (nh === FRAGMENT) {
        const fo = b.readUInt16BE(p + 2)
        const more = (fo & 1) !== 0
        const fragOff = fo & 0xfff8
        const next = b.readUInt8(p)
        if (!more && fragOff === 0) { nh = next; p += 8; continue } // atomic fragment
        if (lost > 0) { this.stats.dropped++; return false }
        const key = b.toString('latin1', off + 8, off + 40) + b.toString('latin1', p + 4, p + 8)
        return this.#fragment(key, 6, b.subarray(off + 8, off + 40), next, fragOff, more, b.subarray(p + 8, end), tsUs, out)
      }
      const len = nh === AH ? (b.readUInt8(p + 1) + 2) * 4 : (b.readUInt8(p + 1) + 1) * 8
      nh = b.readUInt8(p)
      p += len
    }
    if (p > end) return false
    out.version = 6; out.data = b; out.srcOff = off + 8; out.dstOff = off + 24; out.addrLen = 16
    out.protocol = nh; out.payloadOff = p; out.payloadEnd = end; out.lost = lost
    return true
  }

  #fragment(key: string, version: 4 | 6, addrs: Buffer, protocol: number, fragOff: number, more: boolean, payload: Buffer, tsUs: number, out: IpView): boolean {
    this.stats.fragments++
    this.#expire(tsUs)
    let r = this.#pending.get(key)
    if (r === undefined) {
      if (this.#pending.size >= this.maxDatagrams) this.#dropOldest()
      r = { addrs: Buffer.from(addrs), addrLen: version === 4 ? 4 : 16, version, protocol, pieces: [], total: -1, firstUs: tsUs }
      this.#pending.set(key, r)
    }
    if (fragOff + payload.length > MAX_DATAGRAM) { this.#pending.delete(key); this.stats.dropped++; return false }
    if (!more) r.total = fragOff + payload.length
    r.pieces.push({ off: fragOff, data: Buffer.from(payload) })
    if (r.total < 0) return false
    r.pieces.sort((x, y) => x.off - y.off)
    let covered = 0
    for (const piece of r.pieces) {
      if (piece.off > covered) return false
      covered = Math.max(covered, piece.off + piece.data.length)
    }
    if (covered < r.total) return false
    this.#pending.delete(key)
    this.stats.reassembled++
    // the rebuilt datagram: source and destination addresses, then the whole payload
    const a = r.addrLen
    const data = Buffer.alloc(2 * a + r.total)
    r.addrs.copy(data, 0)
    for (const piece of r.pieces) piece.data.copy(data, 2 * a + piece.off, 0, Math.min(piece.data.length, r.total - piece.off))
    out.version = version; out.data = data; out.srcOff = 0; out.dstOff = a; out.addrLen = r.addrLen
    out.protocol = protocol; out.payloadOff = 2 * a; out.payloadEnd = data.length; out.lost = 0
    if (version === 6) return this.#skipV6Extensions(out)
    return true
  }

  /** After IPv6 reassembly, extension headers may still follow the fragment header. */
  #skipV6Extensions(out: IpView): boolean {
    const b = out.data
    let nh = out.protocol
    let p = out.payloadOff
    while (EXT_HEADERS.has(nh) || nh === AH) {
      if (out.payloadEnd - p < 8) return false
      const len = nh === AH ? (b.readUInt8(p + 1) + 2) * 4 : (b.readUInt8(p + 1) + 1) * 8
      nh = b.readUInt8(p)
      p += len
    }
    if (p > out.payloadEnd) return false
    out.protocol = nh
    out.payloadOff = p
    return true
  }

  #expire(nowUs: number): void {
    for (const [key, r] of this.#pending) {
      if (nowUs - r.firstUs <= this.maxAgeUs) break
      this.#pending.delete(key)
      this.stats.dropped++
    }
  }

  #dropOldest(): void {
    const first = this.#pending.keys().next()
    if (first.done !== true) { this.#pending.delete(first.value); this.stats.dropped++ }
  }
}

/** "192.0.2.1" or "2001:db8::1" (RFC 5952: longest run of zero groups shortened). */
export function formatAddress(b: Buffer, off: number, len: 4 | 16): string {
  if (len === 4) return `${b.readUInt8(off)}.${b.readUInt8(off + 1)}.${b.readUInt8(off + 2)}.${b.readUInt8(off + 3)}`
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(off + 2 * i))
  let bestAt = -1, bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) { bestAt = i; bestLen = j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestAt < 0) return hex.join(':')
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`
}

/** "192.0.2.1:1863", "[2001:db8::1]:1863" */
export function formatEndpoint(b: Buffer, off: number, len: 4 | 16, port: number): string {
  const a = formatAddress(b, off, len)
  return len === 4 ? `${a}:${port}` : `[${a}]:${port}`
}
