/**
 * One proxied TCP connection: the client socket, the upstream socket, a decoder per direction,
 * and the decision for every command. Used by the TCP proxy (and by every other way a TCP MSNP
 * stream reaches msnscope: SOCKS, CONNECT, transparent redirection).
 *
 * Promises: every connection ends with exactly one `session-close`; a command no rule changed is
 * forwarded as the exact bytes received; when a receiver stops reading, its sender is paused
 * (nothing is buffered without bound); a failure of this connection never touches another.
 */
import net from 'node:net'
import { MsnpDecoder, type Limits } from '../protocol/decoder.js'
import type { CommandEvent, MsnpEvent, Side } from '../protocol/events.js'
import type { CommandScopeEvent } from '../events.js'
import type { Decider, Decision, DecisionContext } from '../rules/decision.js'
import { FORWARD, InjectedTrIds, labelDecided } from '../rules/decision.js'
import type { ConnState, SessionTracker } from '../session/tracker.js'
import type { EventHub } from './hub.js'

export interface RelayOptions {
  state: ConnState
  client: net.Socket
  /** where to connect; `localAddress` is the address to dial from */
  upstream: { host: string; port: number; localAddress?: string }
  /** an upstream connection already made (SOCKS connects before it answers the client) */
  upstreamSocket?: net.Socket
  /** bytes already read from the client before the relay started (routing peeks) */
  preface?: Buffer
  tracker: SessionTracker
  hub: EventHub
  decider: Decider
  limits: Limits
  /** decode fields and payloads (default true); false frames commands only, for a decider and sinks that read no fields */
  decode?: boolean
  idleTimeoutMs: number
  /** rewrites a server command before it is forwarded (XFR/RNG addresses); may be asynchronous */
  rewriteServer?: (cmd: CommandEvent, state: ConnState) => Buffer | null | Promise<Buffer | null>
  onClose?: (relay: Relay) => void
  /** called with every chunk as it was received, for pcap export */
  onBytes?: (from: Side, bytes: Buffer) => void
}

type Step = (() => void | Promise<void>)

export class Relay implements DecisionContext {
  readonly state: ConnState
  readonly client: net.Socket
  readonly upstream: net.Socket
  readonly bytes = { client: 0, server: 0 }
  #closed = false
  #connected = false
  #ended = { client: false, server: false }
  #decoders: Record<Side, MsnpDecoder>
  /** commands waiting behind an asynchronous step, per direction, kept in order */
  #queue: Record<Side, Step[]> = { client: [], server: [] }
  #busy: Record<Side, boolean> = { client: false, server: false }
  #pauses = { client: new Set<string>(), server: new Set<string>() }
  #announced = false
  readonly #trIds = new InjectedTrIds()
  readonly #o: RelayOptions

  constructor(o: RelayOptions) {
    this.#o = o
    this.state = o.state
    this.client = o.client
    const dialect = o.state.dialectState
    this.#decoders = {
      client: new MsnpDecoder('client', { dialect, limits: o.limits, decode: o.decode ?? true }),
      server: new MsnpDecoder('server', { dialect, limits: o.limits, decode: o.decode ?? true }),
    }
    this.upstream = o.upstreamSocket ?? net.connect({ host: o.upstream.host, port: o.upstream.port, allowHalfOpen: true, ...(o.upstream.localAddress !== undefined ? { localAddress: o.upstream.localAddress } : {}) })
    if (o.upstreamSocket !== undefined) this.#connected = true
    this.#wire()
    if (o.preface !== undefined && o.preface.length > 0) this.#onData('client', o.preface)
  }

  get closed(): boolean { return this.#closed }

  /**
   * `session-open` goes out just before the connection's first other event, once its first
   * command has been seen: a switchboard is linked to its notification session only by the
   * cookie in that command.
   */
  #announce(): void {
    if (this.#announced) return
    this.#announced = true
    const st = this.state
    this.#o.hub.emit({
      ...this.#o.hub.base(st), kind: 'session-open',
      ...(st.parent !== undefined ? { parent: st.parent } : {}), ...(st.via !== undefined ? { via: st.via } : {}),
    })
  }

  /** A TrID for a command msnscope sends to the server itself: above anything the client used. */
  nextClientTrId(): number { return this.#trIds.next() }

  #socket(side: Side): net.Socket { return side === 'client' ? this.client : this.upstream }
  #other(side: Side): Side { return side === 'client' ? 'server' : 'client' }

  #wire(): void {
    const { client, upstream } = this
    const o = this.#o
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    upstream.once('connect', () => { this.#connected = true })
    client.on('data', (chunk: Buffer) => this.#onData('client', chunk))
    upstream.on('data', (chunk: Buffer) => this.#onData('server', chunk))
    client.on('end', () => this.#onEnd('client'))
    upstream.on('end', () => this.#onEnd('server'))
    client.on('error', (err) => this.close(`client error: ${(err as NodeJS.ErrnoException).code ?? err.message}`))
    upstream.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? err.message
      const where = `${o.upstream.host}:${o.upstream.port}`
      this.close(this.#connected ? `upstream error: ${code}` : `upstream ${where} unreachable: ${code}`)
    })
    client.on('close', () => this.close(this.#ended.client ? 'client closed' : 'client vanished'))
    upstream.on('close', () => this.close(this.#ended.server ? 'server closed' : 'server vanished'))
    if (o.idleTimeoutMs > 0) {
      client.setTimeout(o.idleTimeoutMs, () => this.#idle())
      upstream.setTimeout(o.idleTimeoutMs, () => this.#idle())
    }
  }

  #idle(): void {
    this.#announce()
    this.#o.hub.emit({ ...this.#o.hub.base(this.state), kind: 'limit', limit: 'idle-timeout', detail: `no traffic for ${this.#o.idleTimeoutMs} ms` })
    this.close('idle timeout')
  }

  #pause(side: Side, reason: string): void {
    const set = this.#pauses[side]
    if (set.size === 0) this.#socket(side).pause()
    set.add(reason)
  }

  #resume(side: Side, reason: string): void {
    const set = this.#pauses[side]
    if (!set.delete(reason) || set.size > 0 || this.#closed) return
    this.#socket(side).resume()
  }

  /** Write toward `to`; when its buffer is full, pause whoever feeds it until it drains. */
  #write(to: Side, bytes: Buffer): void {
    if (this.#closed || bytes.length === 0) return
    const sock = this.#socket(to)
    if (sock.destroyed || sock.writableEnded) return
    if (!sock.write(bytes)) {
      const feeder = this.#other(to)
      const reason = `drain-${to}`
      if (!this.#pauses[feeder].has(reason)) {
        this.#pause(feeder, reason)
        sock.once('drain', () => this.#resume(feeder, reason))
      }
    }
  }

  #onData(from: Side, chunk: Buffer): void {
    if (this.#closed) return
    this.bytes[from] += chunk.length
    this.#o.onBytes?.(from, chunk)
    const events = this.#decoders[from].push(chunk)
    if (events.length === 0) return
    if (events.length === 1) { this.#step(from, events[0]!); return }
    // what one chunk produces leaves in one write
    const to = this.#socket(this.#other(from))
    to.cork()
    try {
      for (const ev of events) this.#step(from, ev)
    } finally {
      to.uncork()
    }
  }

  /** Handle one decoded event, behind whatever this direction is still waiting for. */
  #step(from: Side, ev: MsnpEvent): void {
    if (this.#busy[from] || this.#queue[from].length > 0) { this.#queue[from].push(() => this.#handle(from, ev)); return }
    const r = this.#handle(from, ev)
    if (r instanceof Promise) this.#awaitStep(from, r)
  }

  #firstEnd: Side | null = null

  #onEnd(from: Side): void {
    this.#ended[from] = true
    this.#firstEnd ??= from
    const rest = this.#decoders[from].end()
    for (const ev of rest) this.#step(from, ev)
    this.#enqueue(from, () => {
      const to = this.#socket(this.#other(from))
      if (!to.destroyed && !to.writableEnded) to.end()
      if (this.#ended.client && this.#ended.server) this.close(this.#firstEnd === 'client' ? 'client closed' : 'server closed')
    })
  }

  /** Run steps of one direction in order; an asynchronous step pauses that direction's reading. */
  #enqueue(from: Side, step: Step): void {
    const q = this.#queue[from]
    if (this.#busy[from] || q.length > 0) { q.push(step); return }
    const r = step()
    if (r instanceof Promise) this.#awaitStep(from, r)
  }

  #awaitStep(from: Side, p: Promise<void>): void {
    this.#busy[from] = true
    this.#pause(from, 'async')
    p.catch((err) => this.close(`internal error: ${String(err)}`)).finally(() => {
      this.#busy[from] = false
      const q = this.#queue[from]
      while (q.length > 0 && !this.#busy[from]) {
        const next = q.shift()!
        const r = next()
        if (r instanceof Promise) { this.#awaitStep(from, r); return }
      }
      this.#resume(from, 'async')
    })
  }

  #handle(from: Side, ev: MsnpEvent): void | Promise<void> {
    if (this.#closed) return
    const hub = this.#o.hub
    const to = this.#other(from)
    if (ev.kind === 'malformed') {
      this.#announce()
      hub.emit({ ...hub.base(this.state), kind: 'malformed', from, code: ev.code, reason: ev.reason, raw: ev.raw })
      if (ev.code === 'line-too-long' || ev.code === 'payload-too-large') {
        hub.emit({ ...hub.base(this.state), kind: 'limit', limit: ev.code === 'line-too-long' ? 'max-line' : 'max-payload', detail: `${from}: ${ev.reason}` })
        this.close(`limit: ${ev.reason}`)
        return
      }
      this.#write(to, ev.raw)
      return
    }
    if (from === 'client') this.#trIds.seen(ev.trId)
    this.#o.tracker.observe(this.state, ev)
    this.#announce()
    const rewrite = from === 'server' ? this.#o.rewriteServer?.(ev, this.state) ?? null : null
    if (rewrite instanceof Promise) return rewrite.then((bytes) => this.#decide(from, ev, bytes))
    return this.#decide(from, ev, rewrite)
  }

  #decide(from: Side, cmd: CommandEvent, redirected: Buffer | null): void | Promise<void> {
    if (this.#closed) return
    const hub = this.#o.hub
    const st = this.state
    const event: CommandScopeEvent = {
      seq: 0, ts: '', conn: st.conn, transport: st.transport, client: st.client, server: st.server,
      role: st.role, account: st.account, dialect: st.dialectState.dialect, kind: 'command', command: cmd, action: 'pass',
    }
    if (redirected !== null) { event.action = 'rewrite'; event.rule = 'msnscope:redirect'; event.forwarded = redirected }
    let decision: Decision | Promise<Decision>
    try { decision = this.#o.decider(event, this) } catch (err) {
      hub.emit({ ...hub.base(this.state), kind: 'rule-error', rule: '(decider)', error: String(err) })
      decision = FORWARD
    }
    if (decision instanceof Promise) return decision.then((d) => this.#carryOut(from, event, d, redirected), () => this.#carryOut(from, event, FORWARD, redirected))
    this.#carryOut(from, event, decision, redirected)
  }

  #carryOut(from: Side, event: CommandScopeEvent, d: Decision, redirected: Buffer | null): void {
    if (this.#closed) return
    const hub = this.#o.hub
    const to = this.#other(from)
    labelDecided(event, d)
    event.ts = hub.now()
    // the bytes go out before the event reaches the sinks, so that no sink delays the traffic
    switch (d.verdict) {
      case 'forward': this.#write(to, redirected ?? event.command.raw); break
      case 'replace': this.#write(to, d.bytes ?? event.command.raw); break
      case 'drop': break
      case 'close': break
    }
    if (d.reply !== undefined) this.#write(from, d.reply)
    for (const inj of d.inject ?? []) this.#write(inj.to, inj.bytes)
    if (d.events !== undefined) for (const extra of d.events) hub.emit(extra as never)
    hub.emit(event)
    if (d.verdict === 'close') this.close(`closed by rule ${d.rule ?? ''}`.trim())
  }

  /** Send bytes msnscope made itself to one side (injection from a rule or the TUI). */
  send(to: Side, bytes: Buffer): void { this.#write(to, bytes) }

  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.client.destroy()
    this.upstream.destroy()
    const hub = this.#o.hub
    this.#announce()
    hub.emit({ ...hub.base(this.state), kind: 'session-close', reason, bytes: { ...this.bytes } })
    this.#o.tracker.close(this.state.conn)
    this.#o.onClose?.(this)
  }
}
