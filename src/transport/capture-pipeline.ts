/**
 * From capture records to pipeline events: link layer, IP, TCP reassembly, recognition of MSNP
 * and HTTP-gateway streams by content, the decoders and the session tracker. Synchronous and
 * free of I/O: pcap-import.ts feeds it records from files or standard input; a TUI or a test can
 * feed it directly. Memory stays flat however long the capture: finished flows are dropped, idle
 * ones are closed, and every buffer (out-of-order data, undecided streams, IP fragments) has a bound.
 */
import type { Limits } from '../protocol/decoder.js'
import type { Side } from '../protocol/events.js'
import { SessionTracker } from '../session/tracker.js'
import type { EventSink } from '../events.js'
import { detectStream, DETECT_BUDGET, type StreamGuess } from '../pcap/detect.js'
import { IpDecoder, newIpView } from '../pcap/ip.js'
import { isSupportedLinkType, networkOffset } from '../pcap/link.js'
import type { CaptureRecord } from '../pcap/pcap-file.js'
import { newTcpSegment, parseTcp } from '../pcap/tcp-segment.js'
import { TcpReassembler, type TcpFlow, type TcpHandler } from '../pcap/tcp.js'
import { CaptureConns, type CaptureConn } from './capture-conns.js'
import { GatewaySessions, type HttpStream } from './capture-gateway.js'

export interface PipelineOptions {
  /** TCP ports decoded as MSNP (or, when the stream is HTTP, as gateway traffic) whatever they hold */
  ports?: readonly number[]
  limits?: Partial<Limits>
  /** out-of-order bytes buffered per direction before declaring a gap (default 256 KiB) */
  maxBuffered?: number
  /** capture time without packets after which a connection is closed (default 10 minutes) */
  idleUs?: number
  /**
   * decode each command's fields and payload (default true); false frames commands only, for a
   * consumer that decodes their raw bytes itself (the JSON thread of `read --json`). Session
   * tracking reads only verbs and arguments, so it works the same either way.
   */
  decode?: boolean
}

export interface PipelineStats {
  packets: number
  /** packets of link types msnscope does not read, by link type */
  unsupportedLinkTypes: Map<number, number>
  tcpSegments: number
  flows: number
  msnpStreams: number
  gatewayStreams: number
  ignoredStreams: number
  gaps: number
  gapBytes: number
  conflicts: number
  firstUs: number
  lastUs: number
}

/** Ports on which weaker evidence of MSNP will do (1863 is MSNP's registered port). */
const MSNP_PORTS = [1863]
const SWEEP_INTERVAL_US = 60e6
/** Capture bytes between two compactions of the views the reassembler keeps. */
const COMPACT_INTERVAL_BYTES = 4 * 1024 * 1024
/** Data segments an undecided stream may show before it is given up on. */
const MAX_UNDECIDED_SEGMENTS = 24

/** Bytes of one direction, or a gap in it, waiting for the stream to be recognised. */
type Pending = { dir: 0 | 1; bytes: Buffer } | { dir: 0 | 1; gap: number; reason: string }

interface FlowCtx {
  kind: 'undecided' | 'msnp' | 'http' | 'ignored'
  /** what arrived before the decision, in order */
  pending: Pending[]
  pendingBytes: [number, number]
  /** bytes of each direction since its last gap, to recognise the protocol */
  probe: [Buffer, Buffer]
  /** a gap came before any probe bytes: read the direction as mid-stream */
  probeGap: [boolean, boolean]
  guess: [StreamGuess | null, StreamGuess | null]
  segments: number
  clientDir: 0 | 1
  conn: CaptureConn | null
  http: HttpStream | null
}

export class CapturePipeline implements TcpHandler<FlowCtx> {
  readonly stats: PipelineStats = {
    packets: 0, unsupportedLinkTypes: new Map(), tcpSegments: 0, flows: 0, msnpStreams: 0, gatewayStreams: 0,
    ignoredStreams: 0, gaps: 0, gapBytes: 0, conflicts: 0, firstUs: Number.NaN, lastUs: Number.NaN,
  }
  readonly conns: CaptureConns
  readonly tracker = new SessionTracker()
  readonly #tcp: TcpReassembler<FlowCtx>
  readonly #ip = new IpDecoder()
  readonly #gateway: GatewaySessions
  readonly #ipView = newIpView()
  readonly #seg = newTcpSegment(this.#ipView)
  readonly #forced: ReadonlySet<number>
  readonly #lenient: ReadonlySet<number>
  #nowUs = Number.NEGATIVE_INFINITY
  #uncompacted = 0
  #nextSweepUs = Number.NaN
  #finished = false

  constructor(sink: EventSink, options: PipelineOptions = {}) {
    const idleUs = options.idleUs ?? 10 * 60e6
    this.conns = new CaptureConns(sink, this.tracker, options.limits ?? {}, options.decode ?? true)
    this.#gateway = new GatewaySessions(this.conns, idleUs)
    this.#tcp = new TcpReassembler<FlowCtx>(this, { idleUs, ...(options.maxBuffered !== undefined ? { maxBuffered: options.maxBuffered } : {}) })
    this.#forced = new Set(options.ports ?? [])
    this.#lenient = new Set([...MSNP_PORTS, ...this.#forced])
  }

  /** Connections and gateway sessions still open. */
  get openConnections(): number { return this.#tcp.openFlows + this.#gateway.openSessions }

  /** One captured packet (the record object itself is not kept). */
  record(rec: CaptureRecord): void {
    const st = this.stats
    st.packets++
    this.#uncompacted += rec.data.length
    if (this.#uncompacted > COMPACT_INTERVAL_BYTES) { this.#uncompacted = 0; this.#tcp.compact() }
    const ts = rec.tsUs
    if (!(st.firstUs <= ts)) st.firstUs = ts
    if (!(st.lastUs >= ts)) st.lastUs = ts
    if (ts > this.#nowUs) {
      this.#nowUs = ts
      if (!(ts < this.#nextSweepUs)) {
        if (!Number.isNaN(this.#nextSweepUs)) { this.#tcp.sweep(ts); this.#gateway.sweep(ts) }
        this.#nextSweepUs = ts + SWEEP_INTERVAL_US
      }
    }
    const off = networkOffset(rec.linkType, rec.data)
    if (off < 0) {
      if (!isSupportedLinkType(rec.linkType)) st.unsupportedLinkTypes.set(rec.linkType, (st.unsupportedLinkTypes.get(rec.linkType) ?? 0) + 1)
      return
    }
    if (!this.#ip.decode(rec.data, off, ts, this.#ipView)) return
    if (!parseTcp(this.#ipView, this.#seg)) return
    st.tcpSegments++
    this.#tcp.segment(this.#seg, ts)
  }

  /** The capture ended: decide undecided streams, close everything, exactly once. */
  finish(): void {
    if (this.#finished) return
    this.#finished = true
    const ts = Number.isFinite(this.#nowUs) ? this.#nowUs : 0
    this.#tcp.finish(ts)
    this.#gateway.finish(ts)
    const t = this.#tcp.stats
    Object.assign(this.stats, { flows: t.flows, gaps: t.gaps, gapBytes: t.gapBytes, conflicts: t.conflicts })
  }

  // TcpHandler

  data(flow: TcpFlow<FlowCtx>, dir: 0 | 1, bytes: Buffer, tsUs: number): void {
    const ctx = flow.user ?? this.#ctx(flow)
    switch (ctx.kind) {
      case 'msnp':
        this.conns.feed(ctx.conn!, this.#side(ctx, dir), bytes, tsUs)
        return
      case 'http':
        this.#gateway.data(ctx.http!, this.#side(ctx, dir), bytes, tsUs)
        if (ctx.http!.ignore) this.#ignore(flow, ctx)
        return
      case 'undecided':
        ctx.pending.push({ dir, bytes })
        ctx.pendingBytes[dir] += bytes.length
        if (ctx.probe[dir].length < DETECT_BUDGET) ctx.probe[dir] = ctx.probe[dir].length === 0 ? bytes : Buffer.concat([ctx.probe[dir], bytes])
        ctx.segments++
        ctx.guess[dir] = detectStream(ctx.probe[dir], { midStream: !flow.dirs[dir].syn || ctx.probeGap[dir], lenient: this.#isLenient(flow) })
        this.#decide(flow, ctx, tsUs, false)
        return
      case 'ignored':
        return
    }
  }

  gap(flow: TcpFlow<FlowCtx>, dir: 0 | 1, bytes: number, reason: string, tsUs: number): void {
    const ctx = flow.user ?? this.#ctx(flow)
    switch (ctx.kind) {
      case 'msnp':
        this.conns.gap(ctx.conn!, this.#side(ctx, dir), bytes, reason, tsUs)
        return
      case 'http':
        this.#gateway.gap(ctx.http!, this.#side(ctx, dir), bytes, tsUs)
        return
      case 'undecided':
        ctx.pending.push({ dir, gap: bytes, reason })
        ctx.probe[dir] = Buffer.alloc(0)
        ctx.probeGap[dir] = true
        ctx.guess[dir] = null
        return
      case 'ignored':
        return
    }
  }

  conflict(flow: TcpFlow<FlowCtx>, dir: 0 | 1, bytes: number, tsUs: number): void {
    const ctx = flow.user
    if (ctx?.kind !== 'msnp' || ctx.conn === null) return
    this.conns.emit(ctx.conn, { kind: 'gap', from: this.#side(ctx, dir), bytes: 0, reason: `a retransmission disagrees with the first copy of ${bytes} bytes, which was kept` }, tsUs)
  }

  close(flow: TcpFlow<FlowCtx>, reason: string, tsUs: number): void {
    const ctx = flow.user
    if (ctx === undefined) return
    if (ctx.kind === 'undecided') {
      for (const dir of [0, 1] as const) {
        if (ctx.probe[dir].length > 0 && ctx.guess[dir] === null) {
          ctx.guess[dir] = detectStream(ctx.probe[dir], { midStream: !flow.dirs[dir].syn || ctx.probeGap[dir], lenient: this.#isLenient(flow), final: true })
        }
      }
      this.#decide(flow, ctx, tsUs, true)
    }
    if (ctx.kind === 'msnp') this.conns.close(ctx.conn!, reason, tsUs)
    else if (ctx.kind === 'http') this.#gateway.end(ctx.http!, tsUs)
  }

  #ctx(flow: TcpFlow<FlowCtx>): FlowCtx {
    const ctx: FlowCtx = {
      kind: 'undecided', pending: [], pendingBytes: [0, 0], probe: [Buffer.alloc(0), Buffer.alloc(0)],
      probeGap: [false, false], guess: [null, null], segments: 0, clientDir: 0, conn: null, http: null,
    }
    flow.user = ctx
    return ctx
  }

  #isLenient(flow: TcpFlow<FlowCtx>): boolean {
    return this.#lenient.has(flow.ports[0]) || this.#lenient.has(flow.ports[1])
  }

  #side(ctx: FlowCtx, dir: 0 | 1): Side {
    return dir === ctx.clientDir ? 'client' : 'server'
  }

  /** Settle what an undecided stream is, once its first bytes tell (or `final`: they never will). */
  #decide(flow: TcpFlow<FlowCtx>, ctx: FlowCtx, tsUs: number, final: boolean): void {
    const [g0, g1] = ctx.guess
    const forced = this.#forced.has(flow.ports[0]) || this.#forced.has(flow.ports[1])
    const http = g0?.protocol === 'http' ? g0 : g1?.protocol === 'http' ? g1 : null
    const msnp = g0?.protocol === 'msnp' || g1?.protocol === 'msnp'
    if (http !== null) {
      ctx.clientDir = flow.initiatorKnown ? 0 : http === g0 ? (http.side === 'client' ? 0 : 1) : (http.side === 'client' ? 1 : 0)
      this.#startHttp(flow, ctx, tsUs)
      return
    }
    if (msnp || (forced && (ctx.pendingBytes[0] > 0 || ctx.pendingBytes[1] > 0))) {
      ctx.clientDir = this.#clientDir(flow, ctx)
      this.#startMsnp(flow, ctx, tsUs)
      return
    }
    const other = (g: StreamGuess | null, dir: 0 | 1): boolean => g?.protocol === 'other' || (g === null && ctx.pendingBytes[dir] === 0)
    const bothOther = other(g0, 0) && other(g1, 1)
    const hopeless = ctx.segments > MAX_UNDECIDED_SEGMENTS || ctx.pendingBytes[0] + ctx.pendingBytes[1] > 2 * DETECT_BUDGET
    // with a handshake seen, a stream must start with a command: one bad start settles it
    const badStart = (g0?.protocol === 'other' && flow.dirs[0].syn && !ctx.probeGap[0]) || (g1?.protocol === 'other' && flow.dirs[1].syn && !ctx.probeGap[1])
    if (final || hopeless || badStart || (bothOther && ctx.pendingBytes[0] > 0 && ctx.pendingBytes[1] > 0)) this.#ignore(flow, ctx)
  }

  /** Which direction is the client's: the SYN's sender, else what the commands say, else the ports. */
  #clientDir(flow: TcpFlow<FlowCtx>, ctx: FlowCtx): 0 | 1 {
    if (flow.initiatorKnown) return 0
    for (const dir of [0, 1] as const) {
      const g = ctx.guess[dir]
      if (g?.protocol === 'msnp' && g.side !== null) return (g.side === 'client') === (dir === 0) ? 0 : 1
    }
    const [p0, p1] = flow.ports
    const serverish = (p: number): boolean => this.#lenient.has(p)
    if (serverish(p0) !== serverish(p1)) return serverish(p0) ? 1 : 0
    if ((p0 < 1024) !== (p1 < 1024)) return p0 < 1024 ? 1 : 0
    return 0
  }

  #startMsnp(flow: TcpFlow<FlowCtx>, ctx: FlowCtx, tsUs: number): void {
    ctx.kind = 'msnp'
    this.stats.msnpStreams++
    const c = ctx.clientDir
    const s = c === 0 ? 1 : 0
    // a direction read from its first byte needs no resynchronisation
    const resync = { client: !flow.dirs[c].syn || ctx.probeGap[c], server: !flow.dirs[s].syn || ctx.probeGap[s] }
    ctx.conn = this.conns.open({ transport: 'tcp', client: flow.endpoints[c], server: flow.endpoints[s], midStream: resync.client || resync.server, resync, openUs: flow.firstUs })
    this.#replay(flow, ctx, tsUs)
  }

  #startHttp(flow: TcpFlow<FlowCtx>, ctx: FlowCtx, tsUs: number): void {
    ctx.kind = 'http'
    this.stats.gatewayStreams++
    const c = ctx.clientDir
    ctx.http = this.#gateway.stream(flow.endpoints[c], flow.endpoints[c === 0 ? 1 : 0])
    this.#replay(flow, ctx, tsUs)
    if (ctx.http.ignore) this.#ignore(flow, ctx)
  }

  /** Hand what waited for the decision to the chosen handler, in the order it came. */
  #replay(flow: TcpFlow<FlowCtx>, ctx: FlowCtx, tsUs: number): void {
    const pending = ctx.pending
    ctx.pending = []
    ctx.probe = [Buffer.alloc(0), Buffer.alloc(0)]
    for (const p of pending) {
      if ('gap' in p) this.gap(flow, p.dir, p.gap, p.reason, tsUs)
      else this.data(flow, p.dir, p.bytes, tsUs)
    }
  }

  #ignore(flow: TcpFlow<FlowCtx>, ctx: FlowCtx): void {
    if (ctx.kind === 'ignored') return
    if (ctx.kind === 'http') this.stats.gatewayStreams--
    ctx.kind = 'ignored'
    ctx.pending = []
    ctx.probe = [Buffer.alloc(0), Buffer.alloc(0)]
    this.stats.ignoredStreams++
    this.#tcp.ignore(flow)
  }
}
