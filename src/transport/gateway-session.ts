/**
 * One gateway session (one SessionID) as one logical connection: a decoder per side fed with
 * successive bodies (so several commands per body and a command split across bodies both
 * work), the decision for every command, and the bytes waiting for the next request or answer.
 *
 * Requests of a session run one at a time (`run`), in the order they reach msnscope: the real
 * gateway answers 400 to overlapping requests, and each side's decoder must see its bytes in
 * order. No I/O here; http-gateway.ts sends and answers.
 */
import { MsnpDecoder, type Limits } from '../protocol/decoder.js'
import type { MsnpEvent, Side } from '../protocol/events.js'
import type { CommandScopeEvent, HttpEvent } from '../events.js'
import { FORWARD, InjectedTrIds, labelDecided, type Decider, type Decision, type DecisionContext } from '../rules/decision.js'
import type { ConnState, SessionTracker } from '../session/tracker.js'
import type { EventHub } from './hub.js'

/** What one body became once every command in it was decided. */
export interface BodyResult {
  /** bytes that go on to the other side */
  out: Buffer[]
  /** bytes that go back to the sender (replies, injections toward it) */
  back: Buffer[]
  /** set when a rule closed the session or a limit was hit */
  close: string | null
  /** a rule rejected a command with this HTTP status: the request is answered with it */
  httpStatus?: number
}

/** What a request looked like, for its `http` event. */
export interface RequestInfo { url: string; action: string | null; sessionId: string | null; bodyLength: number; note: string | null }

export type PendingHttp = Omit<HttpEvent, 'seq' | 'ts'>

/**
 * How a session's client reaches msnscope: as its gateway host (`reverse`), as its HTTP proxy
 * with absolute URIs (`forward`), or redirected by the firewall on its way to the gateway
 * (`transparent`).
 */
export type GatewayVia = 'reverse' | 'forward' | 'transparent'

export interface GatewaySessionOptions {
  state: ConnState
  via: GatewayVia
  gateway: { host: string; port: number }
  hub: EventHub
  tracker: SessionTracker
  decider: () => Decider
  limits: Limits
}

export class GatewaySession implements DecisionContext {
  readonly state: ConnState
  readonly via: GatewayVia
  /** the gateway the open request went to */
  readonly opened: { host: string; port: number }
  /** GW-IP and X-MSN-Host in answers are replaced with msnscope's address (always in reverse mode) */
  handsOutSelf: boolean
  /** the part of SessionID before the dot, once the gateway gave one */
  key: string | null = null
  /** the latest SessionID from the gateway, and the one the client last received */
  upstreamSid: string | null = null
  clientSid: string | null = null
  /** where the next request goes (GW-IP / X-MSN-Host where msnscope hands out its own address) */
  gateway: { host: string; port: number }
  /** the local address reverse-mode clients reached msnscope on (for GW-IP) */
  localAddress: string | null = null
  /** the real GW-IP (or X-MSN-Host) last seen, for redirect events */
  realGwIp: string | null = null
  readonly bytes = { client: 0, server: 0 }
  readonly counters = { requests: 0, polls: 0, emptyPolls: 0 }
  /** server bytes (and replies) for the client's next answer */
  readonly toClient: Buffer[] = []
  /** bytes for the server that wait for a request of msnscope's own */
  readonly toServer: Buffer[] = []
  /** requests queued or running */
  pending = 0
  closed = false
  lastActivity = Date.now()
  readonly #decoders: Record<Side, MsnpDecoder>
  #chain: Promise<void> = Promise.resolve()
  readonly #trIds = new InjectedTrIds()
  readonly #o: GatewaySessionOptions

  constructor(o: GatewaySessionOptions) {
    this.#o = o
    this.state = o.state
    this.via = o.via
    this.handsOutSelf = o.via === 'reverse'
    this.opened = o.gateway
    this.gateway = o.gateway
    const dialect = o.state.dialectState
    this.#decoders = {
      client: new MsnpDecoder('client', { dialect, limits: o.limits }),
      server: new MsnpDecoder('server', { dialect, limits: o.limits }),
    }
  }

  get conn(): string { return this.state.conn }

  nextClientTrId(): number { return this.#trIds.next() }

  /** Run one request of this session after the ones before it; a failure ends only this job. */
  run(job: () => Promise<void>): Promise<void> {
    const started = this.pending++ === 0 ? job() : this.#chain.then(job)
    const next = started.then(this.#done, this.#done)
    this.#chain = next
    return next
  }

  readonly #done = (): void => { this.pending-- }

  /** An `http` event of this session; optional fields are assigned after, always in the same order. */
  httpEvent(from: Side, bodyLength: number): PendingHttp {
    const st = this.state
    return {
      conn: st.conn, transport: st.transport, client: st.client, server: st.server, role: st.role, account: st.account,
      dialect: st.dialectState.dialect, kind: 'http', from, bodyLength,
    }
  }

  /** The `http` event of a request. */
  requestEvent(info: RequestInfo): void {
    const ev = this.httpEvent('client', info.bodyLength)
    ev.method = 'POST'
    ev.url = info.url
    if (info.action !== null) ev.action = info.action
    if (info.sessionId !== null) ev.sessionId = info.sessionId
    if (info.note !== null) ev.note = info.note
    this.#o.hub.emit(ev)
  }

  /** An `http` event that says what happened (a failure, a client that went away). */
  note(from: Side, note: string, status?: number, bodyLength = 0): void {
    const ev = this.httpEvent(from, bodyLength)
    if (status !== undefined) ev.status = status
    ev.note = note
    this.#o.hub.emit(ev)
  }

  /**
   * Decode one body of one side and decide every command in it; synchronous unless a decision
   * is (a rule script), so that the usual body costs no promise.
   */
  process(from: Side, body: Buffer): BodyResult | Promise<BodyResult> {
    const result: BodyResult = { out: [], back: [], close: null }
    if (body.length === 0) return result
    this.bytes[from] += body.length
    const events = this.#decoders[from].push(body)
    for (let i = 0; i < events.length; i++) {
      if (result.close !== null || this.closed) break
      const d = this.#handle(from, events[i]!, result)
      if (d !== undefined) return this.#finish(from, events, i, d, result)
    }
    return result
  }

  /** The rest of a body once a decision turned out to be asynchronous. */
  async #finish(from: Side, events: MsnpEvent[], at: number, pending: Promise<void>, result: BodyResult): Promise<BodyResult> {
    await pending
    for (let i = at + 1; i < events.length; i++) {
      if (result.close !== null || this.closed) break
      const d = this.#handle(from, events[i]!, result)
      if (d !== undefined) await d
    }
    return result
  }

  /** What the decoders still hold when the session ends (a command cut short). */
  flush(): void {
    for (const from of ['client', 'server'] as const) {
      for (const ev of this.#decoders[from].end()) {
        if (ev.kind === 'malformed') this.#emitMalformed(from, ev)
      }
    }
  }

  #emitMalformed(from: Side, ev: Extract<MsnpEvent, { kind: 'malformed' }>): void {
    const hub = this.#o.hub
    hub.emit({ ...hub.base(this.state), kind: 'malformed', from, code: ev.code, reason: ev.reason, raw: ev.raw })
  }

  #handle(from: Side, ev: MsnpEvent, result: BodyResult): Promise<void> | undefined {
    const hub = this.#o.hub
    if (ev.kind === 'malformed') {
      this.#emitMalformed(from, ev)
      if (ev.code === 'line-too-long' || ev.code === 'payload-too-large') {
        hub.emit({ ...hub.base(this.state), kind: 'limit', limit: ev.code === 'line-too-long' ? 'max-line' : 'max-payload', detail: `${from}: ${ev.reason}` })
        result.close = `limit: ${ev.reason}`
        return undefined
      }
      result.out.push(ev.raw)
      return undefined
    }
    if (from === 'client') this.#trIds.seen(ev.trId)
    this.#o.tracker.observe(this.state, ev)
    const st = this.state
    const event: CommandScopeEvent = {
      seq: 0, ts: '', conn: st.conn, transport: st.transport, client: st.client, server: st.server, role: st.role,
      account: st.account, dialect: st.dialectState.dialect, kind: 'command', command: ev, action: 'pass',
    }
    let decision: Decision | Promise<Decision>
    try { decision = this.#o.decider()(event, this) } catch (err) {
      hub.emit({ ...hub.base(this.state), kind: 'rule-error', rule: '(decider)', error: String(err) })
      decision = FORWARD
    }
    if (decision instanceof Promise) {
      return decision.then((d) => this.#carryOut(from, event, d, result), () => this.#carryOut(from, event, FORWARD, result))
    }
    this.#carryOut(from, event, decision, result)
    return undefined
  }

  /** As the TCP relay does: label and emit the event, then route the bytes the decision names. */
  #carryOut(from: Side, event: CommandScopeEvent, d: Decision, result: BodyResult): void {
    const hub = this.#o.hub
    for (const extra of d.events ?? []) hub.emit(extra as never)
    labelDecided(event, d)
    event.ts = hub.now()
    hub.emit(event)
    if (d.verdict === 'forward') result.out.push(event.command.raw)
    else if (d.verdict === 'replace') result.out.push(d.bytes ?? event.command.raw)
    if (d.reply !== undefined) result.back.push(d.reply)
    for (const inj of d.inject ?? []) (inj.to === from ? result.back : result.out).push(inj.bytes)
    if (d.verdict === 'close') result.close = `closed by rule ${d.rule ?? ''}`.trim()
    if (d.http !== undefined && result.httpStatus === undefined) result.httpStatus = d.http.status
  }
}
