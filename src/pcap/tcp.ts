/**
 * TCP: segment headers, and reassembly of each connection's two byte streams.
 *
 * Per direction the reassembler delivers bytes exactly once and in order. Out-of-order segments
 * wait in a bounded buffer; retransmissions and overlaps keep the first copy seen, and a later
 * copy that disagrees is reported as a conflict. Bytes the capture never holds become a gap with
 * their count: when the peer acknowledges data that was never seen, when the out-of-order
 * buffer overflows, or when the connection ends with holes. Captures that start mid-connection
 * (no SYN), hold one direction only, or carry wrong (offloaded) checksums are read as they are.
 * Every flow ends with exactly one `close`, at FIN/RST, when idle, or at the end of the capture.
 */
import { formatEndpoint } from './ip.js'
import { ACK, FIN, RST, SYN, type TcpSegment } from './tcp-segment.js'

/** One direction of a flow. */
export class TcpDirection {
  /** `next` is meaningful */
  started = false
  /** the SYN of this direction was seen: the stream starts at its first byte */
  syn = false
  isn = 0
  /** sequence number of the next byte to deliver */
  next = 0
  fin = false
  finSeq = 0
  /** everything up to the FIN was delivered */
  done = false
  /** bytes delivered and bytes declared lost */
  bytes = 0
  lostBytes = 0
  /** waiting segments, sorted by sequence number, none overlapping */
  ooo: Array<{ seq: number; data: Buffer; lost: number }> = []
  oooBytes = 0
  /** highest acknowledgment the other end sent for this direction */
  acked = 0
  ackSeen = false
  /** capture time since which an acknowledged hole waits to be declared lost (-1: none) */
  holeSinceUs = -1
  /**
   * The last delivered piece (ending at `next`), to check retransmissions against: a view into
   * the capture's read buffer until `compact` replaces it with a copy of its end.
   */
  last: Buffer | null = null
  lastIsView = false
}

export interface TcpFlow<U> {
  readonly id: number
  /** [0] the initiator (or, without a handshake, the first sender), [1] the other end */
  readonly endpoints: [string, string]
  readonly ports: [number, number]
  /** the keys of directions 0 and 1 */
  readonly keys: [string, string]
  /** dir 0 is known to be the initiator (a SYN or SYN-ACK was seen) */
  initiatorKnown: boolean
  firstUs: number
  lastUs: number
  readonly dirs: [TcpDirection, TcpDirection]
  /** set by the handler: stop reassembling and just follow the flow to its end */
  ignored: boolean
  closed: boolean
  /** the handler's own state for this flow */
  user: U | undefined
}

export interface TcpHandler<U> {
  /**
   * In-order bytes of one direction. Often a view into the capture's read buffer: a handler
   * that keeps bytes beyond the current chunk for long should copy them.
   */
  data(flow: TcpFlow<U>, dir: 0 | 1, bytes: Buffer, tsUs: number): void
  /** `bytes` bytes of the stream are not in the capture */
  gap(flow: TcpFlow<U>, dir: 0 | 1, bytes: number, reason: string, tsUs: number): void
  /** a retransmission or overlap disagreed with the copy already delivered or buffered */
  conflict(flow: TcpFlow<U>, dir: 0 | 1, bytes: number, tsUs: number): void
  close(flow: TcpFlow<U>, reason: string, tsUs: number): void
}

export interface ReassemblerOptions {
  /** out-of-order bytes buffered per direction before the hole is declared a gap */
  maxBuffered?: number
  /** capture time without packets after which a flow is closed */
  idleUs?: number
  /** flows followed at once; beyond, the oldest is closed */
  maxFlows?: number
}

/** Bytes of the last delivered piece kept per direction once compacted. */
const LAST_KEPT = 2048

/** Largest believable jump of an acknowledgment past the data seen (beyond: not a loss). */
const MAX_ACK_JUMP = 1 << 30
/** How long an acknowledged hole may wait for its data (a capture can show the ACK first). */
export const ACK_HOLE_DELAY_US = 200_000

export class TcpReassembler<U> {
  readonly maxBuffered: number
  readonly idleUs: number
  readonly maxFlows: number
  readonly stats = { flows: 0, segments: 0, gaps: 0, gapBytes: 0, conflicts: 0 }
  readonly #flows = new Map<string, TcpFlow<U>>()
  /** every open flow once, in creation order */
  readonly #open = new Map<number, TcpFlow<U>>()
  /** keys of flows closed recently, so stray late packets do not open them again */
  readonly #recent = new Map<string, number>()
  #nextId = 1

  constructor(readonly handler: TcpHandler<U>, options: ReassemblerOptions = {}) {
    this.maxBuffered = options.maxBuffered ?? 256 * 1024
    this.idleUs = options.idleUs ?? 10 * 60e6
    this.maxFlows = options.maxFlows ?? 65536
  }

  get openFlows(): number { return this.#open.size }

  segment(seg: TcpSegment, tsUs: number): void {
    this.stats.segments++
    const flags = seg.flags
    let flow = this.#flows.get(seg.key)
    if (flow !== undefined && (flags & (SYN | ACK)) === SYN) {
      const d = flow.dirs[flow.keys[0] === seg.key ? 0 : 1]
      // a new SYN on a 4-tuple in use (not a retransmitted one): the old connection is over
      if (d.started && !(d.syn && seg.seq === d.isn)) { this.#close(flow, 'port reused', tsUs); flow = undefined }
    }
    if (flow === undefined) {
      if ((flags & SYN) === 0 && seg.payload.length === 0) return
      if ((flags & SYN) === 0 && this.#recent.has(seg.key)) return
      flow = this.#create(seg, tsUs)
    }
    flow.lastUs = tsUs
    const dir: 0 | 1 = flow.keys[0] === seg.key ? 0 : 1
    const d = flow.dirs[dir]
    if ((flags & SYN) !== 0) {
      if (!d.started) { d.started = true; d.syn = true; d.isn = seg.seq; d.next = (seg.seq + 1) >>> 0 }
      if ((flags & ACK) === 0 || dir === 1) flow.initiatorKnown = true
    }
    if ((flags & ACK) !== 0 && !flow.ignored) this.#acked(flow, dir === 0 ? 1 : 0, seg.ack, tsUs)
    if (seg.payload.length > 0 && !flow.ignored) this.#payload(flow, dir, (flags & SYN) !== 0 ? (seg.seq + 1) >>> 0 : seg.seq, seg.payload, seg.lost, tsUs)
    if ((flags & FIN) !== 0 && !d.fin) {
      d.fin = true
      d.finSeq = (seg.seq + seg.payload.length + seg.lost + ((flags & SYN) !== 0 ? 1 : 0)) >>> 0
      if (!d.started) { d.started = true; d.next = d.finSeq }
      this.#checkDone(d)
    }
    if (flow.dirs[0].holeSinceUs >= 0 && !flow.ignored) this.#lostBelowAck(flow, 0, tsUs)
    if (flow.dirs[1].holeSinceUs >= 0 && !flow.ignored) this.#lostBelowAck(flow, 1, tsUs)
    if ((flags & RST) !== 0) this.#close(flow, 'RST', tsUs)
    else if (!flow.closed && this.#finished(flow.dirs[0], flow.dirs[1])) this.#close(flow, 'FIN', tsUs)
  }

  /** Both directions delivered up to their FIN (a direction never seen counts as finished). */
  #finished(a: TcpDirection, b: TcpDirection): boolean {
    return (a.done || b.done) && (a.done || !a.started) && (b.done || !b.started)
  }

  /** Close flows idle for longer than `idleUs` at capture time `nowUs`. */
  sweep(nowUs: number): void {
    for (const flow of this.#open.values()) {
      if (nowUs - flow.lastUs > this.idleUs) this.#close(flow, 'idle', nowUs)
      else if (!flow.ignored) for (const k of [0, 1] as const) if (flow.dirs[k].holeSinceUs >= 0) this.#lostBelowAck(flow, k, nowUs)
    }
    for (const [key, us] of this.#recent) {
      if (nowUs - us <= 60e6) break
      this.#recent.delete(key)
    }
  }

  /** The capture ended: close every flow still open. */
  finish(tsUs: number): void {
    for (const flow of this.#open.values()) this.#close(flow, 'end of capture', tsUs)
  }

  /** Stop reassembling a flow (the handler decided it is not of interest). */
  ignore(flow: TcpFlow<U>): void {
    flow.ignored = true
    for (const d of flow.dirs) { d.ooo = []; d.oooBytes = 0; d.last = null }
  }

  #create(seg: TcpSegment, tsUs: number): TcpFlow<U> {
    if (this.#open.size >= this.maxFlows) {
      const oldest = this.#open.values().next()
      if (oldest.done !== true) this.#close(oldest.value, 'too many flows', tsUs)
    }
    const ip = seg.ip
    const a = ip.addrLen
    const b = ip.data
    const src = formatEndpoint(b, ip.srcOff, a, seg.sport)
    const dst = formatEndpoint(b, ip.dstOff, a, seg.dport)
    const reverse = b.toString('latin1', ip.dstOff, ip.dstOff + a) + b.toString('latin1', ip.srcOff, ip.srcOff + a) +
      String.fromCharCode(seg.dport >> 8, seg.dport & 0xff, seg.sport >> 8, seg.sport & 0xff)
    // a SYN-ACK seen first: its receiver is the initiator
    const responder = (seg.flags & (SYN | ACK)) === (SYN | ACK)
    const flow: TcpFlow<U> = {
      id: this.#nextId++,
      endpoints: responder ? [dst, src] : [src, dst],
      ports: responder ? [seg.dport, seg.sport] : [seg.sport, seg.dport],
      keys: responder ? [reverse, seg.key] : [seg.key, reverse],
      initiatorKnown: false, firstUs: tsUs, lastUs: tsUs,
      dirs: [new TcpDirection(), new TcpDirection()],
      ignored: false, closed: false, user: undefined,
    }
    this.#flows.set(seg.key, flow)
    this.#flows.set(reverse, flow)
    this.#open.set(flow.id, flow)
    this.#recent.delete(seg.key)
    this.#recent.delete(reverse)
    this.stats.flows++
    return flow
  }

  #payload(flow: TcpFlow<U>, dir: 0 | 1, seq: number, payload: Buffer, lost: number, tsUs: number): void {
    const d = flow.dirs[dir]
    if (!d.started) { d.started = true; d.next = seq }
    const len = payload.length
    const rel = (seq - d.next) | 0
    if (rel + len <= 0) {
      // wholly old: a retransmission (or a one-byte keep-alive probe just below `next`)
      if (!(len === 1 && rel === -1)) this.#compare(flow, dir, seq, payload, tsUs)
      return
    }
    if (d.ooo.length === 0 && rel <= 0) {
      if (rel < 0) this.#compare(flow, dir, seq, payload.subarray(0, -rel), tsUs)
      this.#deliver(flow, dir, rel < 0 ? payload.subarray(-rel) : payload, lost, tsUs)
      this.#checkDone(d)
      return
    }
    const from = rel < 0 ? -rel : 0
    if (from > 0) this.#compare(flow, dir, seq, payload.subarray(0, from), tsUs)
    this.#insert(flow, dir, (seq + from) >>> 0, payload.subarray(from), lost, tsUs)
    this.#drain(flow, dir, tsUs)
    this.#lostBelowAck(flow, dir, tsUs)
    while (d.oooBytes > this.maxBuffered && d.ooo.length > 0) {
      this.#skipTo(flow, dir, d.ooo[0]!.seq, 'out-of-order buffer full', tsUs)
    }
    this.#checkDone(d)
  }

  /** Buffer a segment that is not next in line, keeping whatever was buffered first. */
  #insert(flow: TcpFlow<U>, dir: 0 | 1, seq: number, data: Buffer, lost: number, tsUs: number): void {
    const d = flow.dirs[dir]
    const base = d.next
    let s = (seq - base) | 0
    const e = s + data.length
    const parts: Array<{ seq: number; data: Buffer; lost: number }> = []
    for (const p of d.ooo) {
      const ps = (p.seq - base) | 0
      const pe = ps + p.data.length
      if (pe <= s) continue
      if (ps >= e) break
      if (ps > s) parts.push({ seq: (base + s) >>> 0, data: Buffer.from(data.subarray(s - ((seq - base) | 0), ps - ((seq - base) | 0))), lost: 0 })
      const os = Math.max(ps, s), oe = Math.min(pe, e)
      const mine = data.subarray(os - ((seq - base) | 0), oe - ((seq - base) | 0))
      if (!mine.equals(p.data.subarray(os - ps, oe - ps))) this.#conflict(flow, dir, oe - os, tsUs)
      s = Math.max(s, pe)
      if (s >= e) break
    }
    if (s < e) parts.push({ seq: (base + s) >>> 0, data: Buffer.from(data.subarray(s - ((seq - base) | 0))), lost })
    for (const part of parts) {
      const ps = (part.seq - base) | 0
      let i = d.ooo.length
      while (i > 0 && ((d.ooo[i - 1]!.seq - base) | 0) > ps) i--
      d.ooo.splice(i, 0, part)
      d.oooBytes += part.data.length
    }
  }

  #drain(flow: TcpFlow<U>, dir: 0 | 1, tsUs: number): void {
    const d = flow.dirs[dir]
    while (d.ooo.length > 0) {
      const p = d.ooo[0]!
      const rel = (p.seq - d.next) | 0
      if (rel > 0) break
      d.ooo.shift()
      d.oooBytes -= p.data.length
      if (rel + p.data.length <= 0) continue
      this.#deliver(flow, dir, rel < 0 ? p.data.subarray(-rel) : p.data, p.lost, tsUs)
    }
  }

  #deliver(flow: TcpFlow<U>, dir: 0 | 1, bytes: Buffer, lost: number, tsUs: number): void {
    const d = flow.dirs[dir]
    this.#keep(d, bytes)
    d.next = (d.next + bytes.length) >>> 0
    d.bytes += bytes.length
    this.handler.data(flow, dir, bytes, tsUs)
    if (lost > 0 && !flow.closed) {
      // the capture cut this segment short; a buffered copy may still cover part of the rest
      const first = d.ooo[0]
      const n = first === undefined ? lost : Math.max(0, Math.min(lost, (first.seq - d.next) | 0))
      if (n > 0) this.#gap(flow, dir, n, 'segment cut short by the capture', tsUs)
    }
  }

  /** Declare everything up to `seq` lost, then deliver what follows. */
  #skipTo(flow: TcpFlow<U>, dir: 0 | 1, seq: number, reason: string, tsUs: number): void {
    const n = (seq - flow.dirs[dir].next) | 0
    if (n > 0) this.#gap(flow, dir, n, reason, tsUs)
    this.#drain(flow, dir, tsUs)
  }

  #gap(flow: TcpFlow<U>, dir: 0 | 1, n: number, reason: string, tsUs: number): void {
    const d = flow.dirs[dir]
    d.next = (d.next + n) >>> 0
    d.lostBytes += n
    d.last = null
    this.stats.gaps++
    this.stats.gapBytes += n
    this.handler.gap(flow, dir, n, reason, tsUs)
  }

  /**
   * The other end acknowledged up to `ack`. Bytes it acknowledged that the capture never held
   * are lost. A capture may show an acknowledgment before the data it covers, so a hole below an
   * acknowledgment is declared only once the evidence is ACK_HOLE_DELAY_US old (or at once when
   * the peer acknowledged the FIN: then nothing more can come).
   */
  #acked(flow: TcpFlow<U>, dir: 0 | 1, ack: number, tsUs: number): void {
    const d = flow.dirs[dir]
    if (!d.started) return
    if (!d.ackSeen || ((ack - d.acked) | 0) > 0) { d.acked = ack; d.ackSeen = true }
    this.#lostBelowAck(flow, dir, tsUs)
  }

  #lostBelowAck(flow: TcpFlow<U>, dir: 0 | 1, tsUs: number): void {
    const d = flow.dirs[dir]
    if (!d.ackSeen || d.done) return
    const over = d.fin && ((d.acked - d.finSeq) | 0) > 0
    for (let first = d.ooo[0]; first !== undefined; first = d.ooo[0]) {
      const rel = (first.seq - d.next) | 0
      if (rel <= 0 || rel >= MAX_ACK_JUMP || ((d.acked - first.seq) | 0) < 0) break
      if (!over) {
        if (d.holeSinceUs < 0) d.holeSinceUs = tsUs
        if (tsUs - d.holeSinceUs < ACK_HOLE_DELAY_US) return
      }
      this.#skipTo(flow, dir, first.seq, 'not in the capture (acknowledged by the peer)', tsUs)
    }
    d.holeSinceUs = -1
    // bytes between the last one seen and an acknowledged FIN
    if (over && d.ooo.length === 0) {
      const behind = (d.finSeq - d.next) | 0
      if (behind > 0 && behind < MAX_ACK_JUMP) this.#gap(flow, dir, behind, 'not in the capture (acknowledged by the peer)', tsUs)
      this.#checkDone(d)
    }
  }

  #keep(d: TcpDirection, bytes: Buffer): void {
    d.last = bytes
    d.lastIsView = true
  }

  /**
   * Replace the views kept for retransmission checks with copies of their last LAST_KEPT bytes,
   * so that they stop pinning read buffers. Call it every few megabytes of capture.
   */
  compact(): void {
    for (const flow of this.#open.values()) {
      for (const d of flow.dirs) {
        if (!d.lastIsView || d.last === null) continue
        d.last = Buffer.from(d.last.subarray(Math.max(0, d.last.length - LAST_KEPT)))
        d.lastIsView = false
      }
    }
  }

  /** Check a retransmitted piece against the last piece delivered. */
  #compare(flow: TcpFlow<U>, dir: 0 | 1, seq: number, bytes: Buffer, tsUs: number): void {
    const d = flow.dirs[dir]
    if (d.last === null) return
    const lastSeq = (d.next - d.last.length) >>> 0
    const s = Math.max(0, (seq - lastSeq) | 0)
    const from = Math.max(0, (lastSeq - seq) | 0)
    const n = Math.min(d.last.length - s, bytes.length - from)
    if (n <= 0) return
    if (!bytes.subarray(from, from + n).equals(d.last.subarray(s, s + n))) this.#conflict(flow, dir, n, tsUs)
  }

  #conflict(flow: TcpFlow<U>, dir: 0 | 1, n: number, tsUs: number): void {
    this.stats.conflicts++
    this.handler.conflict(flow, dir, n, tsUs)
  }

  #checkDone(d: TcpDirection): void {
    if (d.fin && !d.done && ((d.finSeq - d.next) | 0) <= 0) d.done = true
  }

  #close(flow: TcpFlow<U>, reason: string, tsUs: number): void {
    if (flow.closed) return
    if (!flow.ignored) {
      for (const dir of [0, 1] as const) {
        const d = flow.dirs[dir]
        while (d.ooo.length > 0) this.#skipTo(flow, dir, d.ooo[0]!.seq, 'never in the capture', tsUs)
        // acknowledged by the peer, never seen (the FIN's own sequence number is not data)
        let end = d.acked
        if (d.fin && ((end - d.finSeq) | 0) > 0) end = d.finSeq
        const behind = (end - d.next) | 0
        if (d.ackSeen && d.started && behind > 0 && behind < MAX_ACK_JUMP) this.#gap(flow, dir, behind, 'not in the capture (acknowledged by the peer)', tsUs)
      }
    }
    flow.closed = true
    this.#flows.delete(flow.keys[0])
    this.#flows.delete(flow.keys[1])
    this.#open.delete(flow.id)
    this.#recent.set(flow.keys[0], tsUs)
    this.#recent.set(flow.keys[1], tsUs)
    if (this.#recent.size > 16384) {
      const oldest = this.#recent.keys().next()
      if (oldest.done !== true) this.#recent.delete(oldest.value)
    }
    this.handler.close(flow, reason, tsUs)
  }
}
