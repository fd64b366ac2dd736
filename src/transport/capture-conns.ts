/**
 * The MSNP connections of a capture, whatever carries them (a TCP stream or an HTTP gateway
 * session): two decoders sharing the connection's dialect, the session tracker, and the events
 * they produce. Each connection opens with one `session-open` (sent just before its first other
 * event, once its first command has told the tracker what it is) and ends with exactly one
 * `session-close`.
 */
import { MsnpDecoder, type DecoderOptions, type Limits } from '../protocol/decoder.js'
import type { MsnpEvent, Side } from '../protocol/events.js'
import type { ConnState, Referral, SessionTracker } from '../session/tracker.js'
import type { EventBase, EventSink, ScopeEvent, Transport } from '../events.js'

export interface CaptureConn {
  readonly id: string
  readonly transport: Transport
  readonly state: ConnState
  readonly decoders: { client: MsnpDecoder; server: MsnpDecoder }
  readonly midStream: boolean
  readonly openUs: number
  opened: boolean
  closed: boolean
  lastUs: number
  readonly bytes: { client: number; server: number }
}

export interface OpenInfo {
  transport: Transport
  client: string | null
  server: string | null
  /** the address the tracker matches against XFR NS referrals, when it differs from `server` */
  referralTarget?: string
  /** the capture holds no handshake: the connection is seen from its middle */
  midStream: boolean
  /** per side: the stream may start inside a command (default: midStream) */
  resync?: { client: boolean; server: boolean }
  openUs: number
}

export class CaptureConns {
  seq = 0
  count = 0
  #isoSec = Number.NaN
  #isoPrefix = ''
  #isoUs = Number.NaN
  #isoLast = ''

  constructor(readonly sink: EventSink, readonly tracker: SessionTracker, readonly limits: Partial<Limits> = {}, readonly decode = true) {}

  open(info: OpenInfo): CaptureConn {
    const id = `c${++this.count}`
    const state = this.tracker.open({ conn: id, transport: info.transport, client: info.client, server: info.referralTarget ?? info.server })
    state.server = info.server
    const resync = info.resync ?? { client: info.midStream, server: info.midStream }
    const opts = (midStream: boolean): DecoderOptions => ({ dialect: state.dialectState, limits: this.limits, midStream, decode: this.decode })
    return {
      id, transport: info.transport, state, midStream: info.midStream, openUs: info.openUs,
      decoders: { client: new MsnpDecoder('client', opts(resync.client)), server: new MsnpDecoder('server', opts(resync.server)) },
      opened: false, closed: false, lastUs: info.openUs, bytes: { client: 0, server: 0 },
    }
  }

  /**
   * Bytes of one side, in order. `before`, when given, runs after the commands were read and
   * seen by the tracker but before any of them is sent: a gateway message sends its `http`
   * event there, and the session's `session-open` then already knows what the commands said.
   */
  feed(conn: CaptureConn, side: Side, bytes: Buffer, tsUs: number, before?: () => void): void {
    conn.bytes[side] += bytes.length
    conn.lastUs = tsUs
    const events = conn.decoders[side].push(bytes)
    if (before === undefined) { this.#emitAll(conn, events, tsUs, null); return }
    const refs = events.map((e) => (e.kind === 'command' ? this.tracker.observe(conn.state, e) : undefined))
    before()
    this.#emitAll(conn, events, tsUs, refs)
  }

  /** `n` bytes of one side are missing. */
  gap(conn: CaptureConn, side: Side, n: number, reason: string, tsUs: number): void {
    this.#emitAll(conn, conn.decoders[side].gap(n), tsUs, null)
    this.emit(conn, { kind: 'gap', from: side, bytes: n, reason }, tsUs)
  }

  /** Send an event of this connection (session-open first if it is not out yet). */
  emit(conn: CaptureConn, ev: DistributiveOmit<ScopeEvent, keyof EventBase>, tsUs: number): void {
    if (!conn.opened) this.#open(conn)
    this.sink(this.#withBase(conn, ev, tsUs))
  }

  close(conn: CaptureConn, reason: string, tsUs: number): void {
    if (conn.closed) return
    this.#emitAll(conn, conn.decoders.client.end(), tsUs, null)
    this.#emitAll(conn, conn.decoders.server.end(), tsUs, null)
    conn.closed = true
    this.emit(conn, { kind: 'session-close', reason, bytes: { client: conn.bytes.client, server: conn.bytes.server } }, tsUs)
    this.tracker.close(conn.id)
  }

  #open(conn: CaptureConn): void {
    conn.opened = true
    const st = conn.state
    const ev: DistributiveOmit<ScopeEvent, keyof EventBase> = { kind: 'session-open' }
    if (st.parent !== undefined) ev.parent = st.parent
    if (st.via !== undefined) ev.via = st.via
    if (conn.midStream) ev.midStream = true
    this.sink(this.#withBase(conn, ev, conn.openUs))
  }

  /** The event with the connection's common fields added (in place: spreading is slow). */
  #withBase(conn: CaptureConn, ev: DistributiveOmit<ScopeEvent, keyof EventBase>, tsUs: number): ScopeEvent {
    const st = conn.state
    const e = ev as ScopeEvent
    e.seq = ++this.seq
    e.ts = this.iso(tsUs)
    e.conn = conn.id
    e.transport = conn.transport
    e.client = st.client
    e.server = st.server
    e.role = st.role
    e.account = st.account
    e.dialect = st.dialectState.dialect
    return e
  }

  /** Send decoder events; `refs` holds what the tracker made of them if it already saw them. */
  #emitAll(conn: CaptureConn, events: MsnpEvent[], tsUs: number, refs: Array<Referral | undefined> | null): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!
      if (e.kind === 'command') {
        const ref = refs === null ? this.tracker.observe(conn.state, e) : refs[i]
        if (!conn.opened) this.#open(conn)
        // built in one literal: commands are most of the events, and spreading is slow
        const st = conn.state
        this.sink({
          seq: ++this.seq, ts: this.iso(tsUs), kind: 'command', conn: conn.id, transport: conn.transport,
          client: st.client, server: st.server, role: st.role, account: st.account, dialect: st.dialectState.dialect,
          command: e, action: 'pass',
        })
        if (ref !== undefined) this.emit(conn, { kind: 'redirect', verb: e.verb, real: ref.target, handedOut: null, note: `${ref.kind} referral seen in a capture` }, tsUs)
      } else {
        this.emit(conn, { kind: 'malformed', from: e.from, code: e.code, reason: e.reason, raw: e.raw }, tsUs)
      }
    }
  }

  /** ISO 8601 with microseconds: 2003-10-15T10:00:00.123456Z */
  iso(tsUs: number): string {
    if (tsUs === this.#isoUs) return this.#isoLast
    this.#isoUs = tsUs
    const sec = Math.floor(tsUs / 1e6)
    if (sec !== this.#isoSec) {
      this.#isoSec = sec
      const d = new Date(sec * 1000)
      this.#isoPrefix = Number.isNaN(d.getTime()) ? '1970-01-01T00:00:00' : d.toISOString().slice(0, 19)
    }
    this.#isoLast = `${this.#isoPrefix}.${String(Math.floor(tsUs - sec * 1e6)).padStart(6, '0')}Z`
    return this.#isoLast
  }
}

/** Omit over each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
