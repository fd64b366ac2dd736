/**
 * Building captures byte by byte for tests: link-layer frames, IPv4/IPv6 packets, TCP segments,
 * whole TCP conversations (with handshake, reordering, retransmission, loss), and pcap or pcapng
 * files around them. Checksums are left at zero, as offloading NICs leave them.
 */

export interface Rec { tsUs: number; data: Buffer; origLength?: number }

const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }

export function ipv4Bytes(a: string): Buffer { return Buffer.from(a.split('.').map(Number)) }

export function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.includes('::') ? a.split('::') as [string, string] : [a, '']
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t]
  return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))))
}

export function ethernet(ip: Buffer, options: { vlan?: number[]; v6?: boolean } = {}): Buffer {
  const tags = (options.vlan ?? []).map((id) => Buffer.concat([u16(0x8100), u16(id)]))
  return Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), ...tags, u16(options.v6 === true ? 0x86dd : 0x0800), ip])
}

export function sll(ip: Buffer, v6 = false): Buffer {
  return Buffer.concat([u16(0), u16(1), u16(6), Buffer.from('0200000000010000', 'hex'), u16(v6 ? 0x86dd : 0x0800), ip])
}

export function sll2(ip: Buffer, v6 = false): Buffer {
  return Buffer.concat([u16(v6 ? 0x86dd : 0x0800), u16(0), Buffer.alloc(4), u16(1), Buffer.from([0, 6]), Buffer.from('0200000000010000', 'hex'), ip])
}

/** BSD loopback: the address family in the capturing host's byte order. */
export function nullLink(ip: Buffer, v6 = false, littleEndian = true): Buffer {
  const f = Buffer.alloc(4)
  if (littleEndian) f.writeUInt32LE(v6 ? 30 : 2)
  else f.writeUInt32BE(v6 ? 30 : 2)
  return Buffer.concat([f, ip])
}

export interface Ipv4Options { id?: number; fragOffset?: number; more?: boolean; protocol?: number; totalLength?: number }

export function ipv4(src: string, dst: string, payload: Buffer, o: Ipv4Options = {}): Buffer {
  const h = Buffer.alloc(20)
  h.writeUInt8(0x45, 0)
  h.writeUInt16BE(o.totalLength ?? 20 + payload.length, 2)
  h.writeUInt16BE(o.id ?? 1, 4)
  h.writeUInt16BE(((o.more === true ? 1 : 0) << 13) | ((o.fragOffset ?? 0) >> 3), 6)
  h.writeUInt8(64, 8)
  h.writeUInt8(o.protocol ?? 6, 9)
  ipv4Bytes(src).copy(h, 12)
  ipv4Bytes(dst).copy(h, 16)
  return Buffer.concat([h, payload])
}

/** IPv6 with optional extension headers: [type, body] pairs, each padded to 8 bytes. */
export function ipv6(src: string, dst: string, payload: Buffer, ext: Array<[number, Buffer]> = [], protocol = 6): Buffer {
  const parts: Buffer[] = []
  let first = protocol
  for (let i = ext.length - 1; i >= 0; i--) {
    const [type, body] = ext[i]!
    const len = Math.ceil((body.length + 2) / 8) * 8
    const e = Buffer.alloc(len)
    e.writeUInt8(first, 0)
    e.writeUInt8(len / 8 - 1, 1)
    body.copy(e, 2)
    parts.unshift(e)
    first = type
  }
  const rest = Buffer.concat([...parts, payload])
  const h = Buffer.alloc(40)
  h.writeUInt32BE(0x60000000, 0)
  h.writeUInt16BE(rest.length, 4)
  h.writeUInt8(first, 6)
  h.writeUInt8(64, 7)
  ipv6Bytes(src).copy(h, 8)
  ipv6Bytes(dst).copy(h, 24)
  return Buffer.concat([h, rest])
}

export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const

export function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20)
  h.writeUInt16BE(sport, 0)
  h.writeUInt16BE(dport, 2)
  h.writeUInt32BE(seq >>> 0, 4)
  h.writeUInt32BE(ack >>> 0, 8)
  h.writeUInt8(5 << 4, 12)
  h.writeUInt8(flags, 13)
  h.writeUInt16BE(65535, 14)
  return Buffer.concat([h, payload])
}

export interface PcapOptions { linkType?: number; nanosecond?: boolean; bigEndian?: boolean; snapLength?: number }

export function pcapFile(records: Rec[], o: PcapOptions = {}): Buffer {
  const be = o.bigEndian === true
  const w32 = (b: Buffer, v: number, at: number): void => { if (be) b.writeUInt32BE(v >>> 0, at); else b.writeUInt32LE(v >>> 0, at) }
  const w16 = (b: Buffer, v: number, at: number): void => { if (be) b.writeUInt16BE(v, at); else b.writeUInt16LE(v, at) }
  const h = Buffer.alloc(24)
  w32(h, o.nanosecond === true ? 0xa1b23c4d : 0xa1b2c3d4, 0)
  w16(h, 2, 4)
  w16(h, 4, 6)
  w32(h, o.snapLength ?? 262144, 16)
  w32(h, o.linkType ?? 1, 20)
  const parts: Buffer[] = [h]
  for (const r of records) {
    const rh = Buffer.alloc(16)
    const sec = Math.floor(r.tsUs / 1e6)
    const us = r.tsUs - sec * 1e6
    w32(rh, sec, 0)
    w32(rh, o.nanosecond === true ? us * 1000 : us, 4)
    w32(rh, r.data.length, 8)
    w32(rh, r.origLength ?? r.data.length, 12)
    parts.push(rh, r.data)
  }
  return Buffer.concat(parts)
}

export interface NgInterface { linkType: number; tsresol?: number; snapLength?: number }
export interface NgPacket { iface: number; tsUs: number; data: Buffer; simple?: boolean; origLength?: number }

/** pcapng: one section (little- or big-endian), its interfaces, then its packets. */
export function pcapngFile(interfaces: NgInterface[], packets: NgPacket[], bigEndian = false): Buffer {
  const w32 = (v: number): Buffer => { const b = Buffer.alloc(4); if (bigEndian) b.writeUInt32BE(v >>> 0); else b.writeUInt32LE(v >>> 0); return b }
  const w16 = (v: number): Buffer => { const b = Buffer.alloc(2); if (bigEndian) b.writeUInt16BE(v); else b.writeUInt16LE(v); return b }
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)])
  const block = (type: number, body: Buffer): Buffer => {
    const len = 12 + body.length
    return Buffer.concat([w32(type), w32(len), body, w32(len)])
  }
  const out: Buffer[] = [block(0x0a0d0d0a, Buffer.concat([w32(0x1a2b3c4d), w16(1), w16(0), Buffer.alloc(8, 0xff)]))]
  for (const i of interfaces) {
    const opts = i.tsresol === undefined ? Buffer.alloc(0) : Buffer.concat([w16(9), w16(1), pad(Buffer.from([i.tsresol])), w16(0), w16(0)])
    out.push(block(1, Buffer.concat([w16(i.linkType), w16(0), w32(i.snapLength ?? 0), opts])))
  }
  for (const p of packets) {
    if (p.simple === true) { out.push(block(3, Buffer.concat([w32(p.origLength ?? p.data.length), pad(p.data)]))); continue }
    const r = interfaces[p.iface]?.tsresol ?? 6
    const units = BigInt(Math.floor(p.tsUs)) * 10n ** BigInt(r) / 1000000n
    out.push(block(6, Buffer.concat([w32(p.iface), w32(Number(units >> 32n)), w32(Number(units & 0xffffffffn)), w32(p.data.length), w32(p.origLength ?? p.data.length), pad(p.data)])))
  }
  return Buffer.concat(out)
}

export interface Endpoint { ip: string; port: number }

/** One segment of a conversation, before framing. */
export interface Seg { fromClient: boolean; seq: number; ack: number; flags: number; payload: Buffer; tsUs: number }

/**
 * A TCP conversation as segments: handshake, the given writes (split at `mss`), acknowledgments
 * and the closing FINs. Tests reorder, duplicate or drop segments before framing them.
 */
export function conversation(writes: Array<[fromClient: boolean, data: Buffer | string]>, o: { mss?: number; handshake?: boolean; close?: boolean; isn?: [number, number]; startUs?: number } = {}): Seg[] {
  const mss = o.mss ?? 1460
  const isn = o.isn ?? [1000, 5000]
  let t = o.startUs ?? 1_000_000_000_000_000
  const next = [isn[0] + 1, isn[1] + 1]
  const segs: Seg[] = []
  const push = (fromClient: boolean, flags: number, payload: Buffer): void => {
    const d = fromClient ? 0 : 1
    segs.push({ fromClient, seq: next[d]! >>> 0, ack: next[1 - d]! >>> 0, flags, payload, tsUs: (t += 1000) })
    next[d]! += payload.length + ((flags & (TCP.SYN | TCP.FIN)) !== 0 ? 1 : 0)
  }
  if (o.handshake !== false) {
    segs.push({ fromClient: true, seq: isn[0], ack: 0, flags: TCP.SYN, payload: Buffer.alloc(0), tsUs: (t += 1000) })
    segs.push({ fromClient: false, seq: isn[1], ack: isn[0] + 1, flags: TCP.SYN | TCP.ACK, payload: Buffer.alloc(0), tsUs: (t += 1000) })
    segs.push({ fromClient: true, seq: isn[0] + 1, ack: isn[1] + 1, flags: TCP.ACK, payload: Buffer.alloc(0), tsUs: (t += 1000) })
  }
  for (const [fromClient, data] of writes) {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    for (let i = 0; i < b.length; i += mss) push(fromClient, TCP.ACK | TCP.PSH, b.subarray(i, i + mss))
    push(!fromClient, TCP.ACK, Buffer.alloc(0))
  }
  if (o.close !== false) {
    push(true, TCP.FIN | TCP.ACK, Buffer.alloc(0))
    push(false, TCP.FIN | TCP.ACK, Buffer.alloc(0))
    push(true, TCP.ACK, Buffer.alloc(0))
  }
  return segs
}

/** Frame conversation segments as Ethernet/IPv4 (or IPv6) records. */
export function frames(segs: Seg[], client: Endpoint, server: Endpoint, o: { v6?: boolean; link?: (ip: Buffer) => Buffer } = {}): Rec[] {
  const link = o.link ?? ((ip: Buffer) => ethernet(ip, { v6: o.v6 === true }))
  return segs.map((s) => {
    const [a, b] = s.fromClient ? [client, server] : [server, client]
    const t = tcp(a.port, b.port, s.seq, s.ack, s.flags, s.payload)
    return { tsUs: s.tsUs, data: link(o.v6 === true ? ipv6(a.ip, b.ip, t) : ipv4(a.ip, b.ip, t)) }
  })
}
