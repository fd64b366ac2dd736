/**
 * `--save FILE.pcap`: the intercepted traffic as a classic pcap that Wireshark, tshark and
 * `msnscope read` open. Each proxied connection becomes one TCP conversation between the real
 * client and the real server, with a synthesised handshake, consistent sequence and
 * acknowledgement numbers, MSS-sized segments, correct checksums and a closing FIN. The bytes
 * are those each side sent (before any rule changed them), secrets masked unless asked not to.
 */
import type { EventSink, ScopeEvent } from '../events.js'
import type { Side } from '../protocol/events.js'
import { BatchedFile } from './file-writer.js'
import type { Redactor } from './redact.js'

const MSS = 1460

interface Flow {
  client: { ip: Buffer; port: number; seq: number }
  server: { ip: Buffer; port: number; seq: number }
  v6: boolean
  ipId: number
}

function parseEndpoint(text: string | null): { ip: Buffer; port: number; v6: boolean } | null {
  if (text === null) return null
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text)
  if (m === null) return null
  const host = m[1]!
  const port = Number(m[2])
  if (host.includes(':')) {
    const ip = ipv6Bytes(host)
    return ip === null ? null : { ip, port, v6: true }
  }
  const parts = host.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null
  return { ip: Buffer.from(parts), port, v6: false }
}

function ipv6Bytes(text: string): Buffer | null {
  const [head, tail] = text.split('::') as [string, string | undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = 8 - h.length - t.length
  if (fill < 0 || (tail === undefined && fill !== 0)) return null
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t]
  const out = Buffer.alloc(16)
  for (let i = 0; i < 8; i++) {
    const v = parseInt(groups[i]!, 16)
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) return null
    out.writeUInt16BE(v, i * 2)
  }
  return out
}

function checksum(bufs: Buffer[]): number {
  let sum = 0
  for (const b of bufs) {
    let i = 0
    for (; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i)
    if (i < b.length) sum += b.readUInt8(i) << 8
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

export class PcapWriter {
  readonly #file: BatchedFile
  readonly #flows = new Map<string, Flow>()
  #fallbackPort = 40000

  constructor(path: string, readonly redactor: Redactor | null, onError?: (err: Error) => void) {
    this.#file = new BatchedFile(path, { truncate: true, ...(onError !== undefined ? { onError } : {}) })
    const header = Buffer.alloc(24)
    header.writeUInt32LE(0xa1b2c3d4, 0)
    header.writeUInt16LE(2, 4)
    header.writeUInt16LE(4, 6)
    header.writeUInt32LE(262144, 16)
    header.writeUInt32LE(1, 20) // Ethernet
    this.#file.write(header)
  }

  readonly sink: EventSink = (ev: ScopeEvent) => {
    if (ev.transport !== 'tcp') return
    const ms = Date.parse(ev.ts)
    switch (ev.kind) {
      case 'session-open': this.#open(ev.conn, ev.client, ev.server, ms); break
      case 'command': {
        const cmd = this.redactor?.redact(ev.command) ?? ev.command
        this.#data(ev.conn, cmd.from, cmd.raw, ms)
        break
      }
      case 'malformed': this.#data(ev.conn, ev.from, ev.raw, ms); break
      case 'session-close': this.#close(ev.conn, ms); break
      default: break
    }
  }

  #open(conn: string, client: string | null, server: string | null, ms: number): void {
    const c = parseEndpoint(client) ?? { ip: Buffer.from([192, 0, 2, 1]), port: this.#fallbackPort++, v6: false }
    const s = parseEndpoint(server) ?? { ip: Buffer.from([192, 0, 2, 2]), port: 1863, v6: false }
    const v6 = c.v6 || s.v6
    if (c.v6 !== s.v6) return // a mixed pair cannot be one IP conversation
    const flow: Flow = { client: { ip: c.ip, port: c.port, seq: 1_000_000 + (this.#flows.size * 7919) }, server: { ip: s.ip, port: s.port, seq: 2_000_000 + (this.#flows.size * 104729) }, v6, ipId: 1 }
    this.#flows.set(conn, flow)
    this.#segment(flow, 'client', Buffer.alloc(0), 0x02, ms)
    flow.client.seq++
    this.#segment(flow, 'server', Buffer.alloc(0), 0x12, ms)
    flow.server.seq++
    this.#segment(flow, 'client', Buffer.alloc(0), 0x10, ms)
  }

  #data(conn: string, from: Side, bytes: Buffer, ms: number): void {
    const flow = this.#flows.get(conn)
    if (flow === undefined) return
    for (let at = 0; at < bytes.length; at += MSS) {
      const part = bytes.subarray(at, at + MSS)
      this.#segment(flow, from, part, 0x18, ms)
      flow[from].seq = (flow[from].seq + part.length) >>> 0
    }
  }

  #close(conn: string, ms: number): void {
    const flow = this.#flows.get(conn)
    if (flow === undefined) return
    this.#segment(flow, 'client', Buffer.alloc(0), 0x11, ms)
    flow.client.seq++
    this.#segment(flow, 'server', Buffer.alloc(0), 0x11, ms)
    flow.server.seq++
    this.#segment(flow, 'client', Buffer.alloc(0), 0x10, ms)
    this.#flows.delete(conn)
  }

  #segment(flow: Flow, from: Side, payload: Buffer, flags: number, ms: number): void {
    const src = flow[from]
    const dst = flow[from === 'client' ? 'server' : 'client']
    const tcp = Buffer.alloc(20)
    tcp.writeUInt16BE(src.port, 0)
    tcp.writeUInt16BE(dst.port, 2)
    tcp.writeUInt32BE(src.seq >>> 0, 4)
    tcp.writeUInt32BE(flags & 0x10 ? dst.seq >>> 0 : 0, 8)
    tcp.writeUInt8(5 << 4, 12)
    tcp.writeUInt8(flags, 13)
    tcp.writeUInt16BE(65535, 14)
    const tcpLen = 20 + payload.length
    let ip: Buffer
    if (flow.v6) {
      const pseudo = Buffer.alloc(40)
      src.ip.copy(pseudo, 0); dst.ip.copy(pseudo, 16); pseudo.writeUInt32BE(tcpLen, 32); pseudo.writeUInt8(6, 39)
      tcp.writeUInt16BE(checksum([pseudo, tcp, payload]), 16)
      ip = Buffer.alloc(40)
      ip.writeUInt32BE(0x60000000, 0)
      ip.writeUInt16BE(tcpLen, 4)
      ip.writeUInt8(6, 6)
      ip.writeUInt8(64, 7)
      src.ip.copy(ip, 8); dst.ip.copy(ip, 24)
    } else {
      const pseudo = Buffer.alloc(12)
      src.ip.copy(pseudo, 0); dst.ip.copy(pseudo, 4); pseudo.writeUInt8(6, 9); pseudo.writeUInt16BE(tcpLen, 10)
      tcp.writeUInt16BE(checksum([pseudo, tcp, payload]), 16)
      ip = Buffer.alloc(20)
      ip.writeUInt8(0x45, 0)
      ip.writeUInt16BE(20 + tcpLen, 2)
      ip.writeUInt16BE(flow.ipId++ & 0xffff, 4)
      ip.writeUInt16BE(0x4000, 6)
      ip.writeUInt8(64, 8)
      ip.writeUInt8(6, 9)
      src.ip.copy(ip, 12); dst.ip.copy(ip, 16)
      ip.writeUInt16BE(checksum([ip]), 10)
    }
    const eth = Buffer.alloc(14)
    Buffer.from(from === 'client' ? [2, 0, 0, 0, 0, 2] : [2, 0, 0, 0, 0, 1]).copy(eth, 0)
    Buffer.from(from === 'client' ? [2, 0, 0, 0, 0, 1] : [2, 0, 0, 0, 0, 2]).copy(eth, 6)
    eth.writeUInt16BE(flow.v6 ? 0x86dd : 0x0800, 12)
    const len = 14 + ip.length + tcpLen
    const rec = Buffer.alloc(16)
    const t = Number.isFinite(ms) ? ms : Date.now()
    rec.writeUInt32LE(Math.floor(t / 1000), 0)
    rec.writeUInt32LE((t % 1000) * 1000, 4)
    rec.writeUInt32LE(len, 8)
    rec.writeUInt32LE(len, 12)
    this.#file.write(Buffer.concat([rec, eth, ip, tcp, payload]))
  }

  close(): void {
    for (const conn of [...this.#flows.keys()]) this.#close(conn, Date.now())
    this.#file.close()
  }
}
