/**
 * TCP segment headers: ports, sequence and acknowledgment numbers, flags and payload of the TCP
 * segment inside an IP packet, and the key of its direction for flow lookup.
 */
import type { IpView } from './ip.js'
import type { SliceableBuffer } from '../buffers.js'

export const FIN = 0x01
export const SYN = 0x02
export const RST = 0x04
export const ACK = 0x10

/** One TCP segment; `payload` is a view into the capture buffer (copy it to keep it). */
export interface TcpSegment {
  /** this direction's flow key: addresses and ports as latin1 */
  key: string
  ip: IpView
  sport: number
  dport: number
  seq: number
  ack: number
  flags: number
  payload: Buffer
  /** payload bytes the capture cut off after `payload` */
  lost: number
}

const NO_PAYLOAD: Buffer = Buffer.alloc(0)

export const newTcpSegment = (ip: IpView): TcpSegment => ({ key: '', ip, sport: 0, dport: 0, seq: 0, ack: 0, flags: 0, payload: Buffer.alloc(0), lost: 0 })

/** Fill `out` from the TCP header of `ip` (out.ip must be `ip`). False when it is not usable. */
export function parseTcp(ip: IpView, out: TcpSegment): boolean {
  const b = ip.data
  const off = ip.payloadOff
  if (ip.protocol !== 6 || ip.payloadEnd - off < 20) return false
  const hl = (b.readUInt8(off + 12) >> 4) * 4
  if (hl < 20 || ip.payloadEnd - off < hl) return false
  out.sport = b.readUInt16BE(off)
  out.dport = b.readUInt16BE(off + 2)
  out.seq = b.readUInt32BE(off + 4)
  out.ack = b.readUInt32BE(off + 8)
  out.flags = b.readUInt8(off + 13)
  out.payload = off + hl === ip.payloadEnd ? NO_PAYLOAD : b.subarray(off + hl, ip.payloadEnd)
  out.lost = ip.lost
  // addresses and ports; one string when the TCP header follows them directly (no IP options)
  const addrEnd = ip.srcOff + 2 * ip.addrLen
  const k = b as SliceableBuffer
  out.key = addrEnd === off ? k.latin1Slice(ip.srcOff, off + 4) : k.latin1Slice(ip.srcOff, addrEnd) + k.latin1Slice(off, off + 4)
  return true
}
