/**
 * The live TCP proxy: listens for MSN clients, relays each connection to its upstream and keeps
 * every notification and switchboard connection of a session inside the proxy by replacing the
 * addresses in XFR and RNG with listeners of its own (redirects.ts). Switchboard connections can
 * also arrive on the main port: they are routed by the CKI cookie of their first command.
 *
 * Never: let one connection's failure affect another, buffer without bound, or crash on input.
 */
import net from 'node:net'
import { DEFAULT_LIMITS, type Limits } from '../protocol/decoder.js'
import type { CommandEvent, Side } from '../protocol/events.js'
import { encodeCommand } from '../protocol/encoder.js'
import { MsnscopeError } from '../errors.js'
import type { EventSink } from '../events.js'
import { passThrough, type Decider } from '../rules/decision.js'
import { SessionTracker, type ConnState } from '../session/tracker.js'
import { endpoint, EventHub, splitHostPort } from './hub.js'
import { RedirectPool, type RedirectTarget } from './redirects.js'
import { Relay } from './relay.js'

export interface TcpProxyOptions {
  listen: { host: string; port: number }
  upstream: { host: string; port: number }
  /** the address handed to clients in rewritten referrals (default: the address the client reached) */
  advertise?: string
  /** local address to dial upstream from */
  dialFrom?: string
  maxConnections?: number
  idleTimeoutMs?: number
  limits?: Partial<Limits>
  maxRedirectListeners?: number
  redirectIdleMs?: number
  redirectPorts?: [number, number]
  decider?: Decider
  hub?: EventHub
  tracker?: SessionTracker
  /** every chunk as received, per connection (pcap export) */
  onBytes?: (state: ConnState, from: Side, bytes: Buffer) => void
}

/** The first line of a connection on the main port is read before choosing its upstream. */
const MAX_PEEK = 4096
const PEEK_TIMEOUT_MS = 30_000

export class TcpProxy {
  readonly hub: EventHub
  readonly tracker: SessionTracker
  readonly relays = new Set<Relay>()
  #server: net.Server | undefined
  #pool: RedirectPool
  #decider: Decider
  readonly #o: TcpProxyOptions
  readonly #limits: Limits
  #pendingSockets = new Set<net.Socket>()

  constructor(o: TcpProxyOptions) {
    this.#o = o
    this.hub = o.hub ?? new EventHub()
    this.tracker = o.tracker ?? new SessionTracker()
    this.#decider = o.decider ?? passThrough
    this.#limits = { ...DEFAULT_LIMITS, ...o.limits }
    this.#pool = new RedirectPool({
      host: o.listen.host,
      maxListeners: o.maxRedirectListeners ?? 256,
      idleMs: o.redirectIdleMs ?? 10 * 60_000,
      ...(o.redirectPorts !== undefined ? { portRange: o.redirectPorts } : {}),
      onConnection: (socket, target, release) => this.#accept(socket, target, release),
    })
  }

  addSink(sink: EventSink): () => void { return this.hub.addSink(sink) }

  set decider(d: Decider) { this.#decider = d }
  get decider(): Decider { return this.#decider }

  get address(): { host: string; port: number } {
    const a = this.#server?.address()
    if (a === null || a === undefined || typeof a === 'string') throw new Error('proxy is not listening')
    return { host: a.address, port: a.port }
  }

  get connections(): number { return this.relays.size + this.#pendingSockets.size }

  async start(): Promise<{ host: string; port: number }> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true })
    server.on('connection', (socket) => this.#accept(socket, null, () => {}))
    server.on('error', () => { /* per-connection accept errors */ })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new MsnscopeError('ELISTEN', `cannot listen on ${this.#o.listen.host}:${this.#o.listen.port}: ${err.code ?? err.message}`, { cause: err })))
      server.listen(this.#o.listen.port, this.#o.listen.host, () => resolve())
    })
    this.#server = server
    return this.address
  }

  async close(): Promise<void> {
    for (const r of [...this.relays]) r.close('proxy shutdown')
    for (const s of this.#pendingSockets) s.destroy()
    await this.#pool.close()
    const server = this.#server
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #accept(socket: net.Socket, target: RedirectTarget | null, release: () => void): void {
    socket.on('error', () => { /* handled by the relay once it owns the socket */ })
    const max = this.#o.maxConnections ?? 1000
    if (this.connections >= max) {
      const client = endpoint(socket.remoteAddress, socket.remotePort)
      this.hub.emit({ conn: '-', transport: 'tcp', client, server: null, role: '?', kind: 'limit', limit: 'max-connections', detail: `refused ${client ?? 'a client'}: ${max} connections open` })
      socket.destroy()
      release()
      return
    }
    if (target !== null) { this.#startRelay(socket, target.real, target.kind, undefined, release); return }
    // Main port: peek at the first line so that a switchboard connection can be routed by cookie.
    this.#pendingSockets.add(socket)
    let buffered: Buffer = Buffer.alloc(0)
    const done = (): void => {
      socket.removeListener('data', onData)
      socket.removeListener('end', onEnd)
      socket.setTimeout(0)
      this.#pendingSockets.delete(socket)
      socket.pause()
    }
    const route = (): void => {
      done()
      const ref = cookieOf(buffered)
      const viaCookie = ref === null ? undefined : this.tracker.referralByCookie(ref)
      if (viaCookie !== undefined) {
        const real = splitHostPort(viaCookie.target)
        if (real !== null) { this.#startRelay(socket, real, 'SB', buffered, release); return }
      }
      this.#startRelay(socket, this.#o.upstream, null, buffered, release)
    }
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      if (buffered.includes(0x0a) || buffered.length >= MAX_PEEK) route()
    }
    const onEnd = (): void => route()
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.setTimeout(PEEK_TIMEOUT_MS, () => { done(); socket.destroy(); release() })
    socket.resume()
  }

  #startRelay(socket: net.Socket, real: { host: string; port: number }, kind: 'NS' | 'SB' | null, preface: Buffer | undefined, release: () => void): void {
    const client = endpoint(socket.remoteAddress, socket.remotePort)
    const server = endpoint(real.host, real.port)
    const state = this.tracker.open({ conn: this.hub.nextConnId(), transport: 'tcp', client, server, ...(kind === 'NS' ? { role: 'NS' } : {}) })
    // the main upstream is a dispatch server until it logs the client in itself (then NS)
    if (state.role === '?') state.role = kind ?? 'DS'
    const onBytes = this.#o.onBytes
    const relay = new Relay({
      state, client: socket, tracker: this.tracker, hub: this.hub, decider: (e, ctx) => this.#decider(e, ctx),
      upstream: { host: real.host, port: real.port, ...(this.#o.dialFrom !== undefined ? { localAddress: this.#o.dialFrom } : {}) },
      limits: this.#limits, idleTimeoutMs: this.#o.idleTimeoutMs ?? 15 * 60_000,
      rewriteServer: (cmd, st) => this.#rewriteReferral(cmd, st, socket),
      onClose: (r) => { this.relays.delete(r); release() },
      ...(preface !== undefined ? { preface } : {}),
      ...(onBytes !== undefined ? { onBytes: (from: Side, bytes: Buffer) => onBytes(state, from, bytes) } : {}),
    })
    this.relays.add(relay)
    socket.resume()
  }

  /** XFR NS / XFR SB / RNG: hand out an address of the proxy and remember the real one. */
  #rewriteReferral(cmd: CommandEvent, state: ConnState, client: net.Socket): Buffer | null | Promise<Buffer | null> {
    const idx = referralIndex(cmd)
    if (idx < 0) return null
    const realText = cmd.args[idx]!
    const real = splitHostPort(realText)
    const base = this.hub.base(state)
    if (real === null) {
      this.hub.emit({ ...base, kind: 'redirect', verb: cmd.verb, real: realText, handedOut: null, note: 'not a host:port; left alone' })
      return null
    }
    const kind = cmd.verb === 'XFR' && cmd.args[0] === 'NS' ? 'NS' : 'SB'
    return this.#pool.portFor({ real, kind }).then((port) => {
      if (port === null) {
        this.hub.emit({ ...this.hub.base(state), kind: 'redirect', verb: cmd.verb, real: realText, handedOut: null, note: 'no free redirect listener; the client will connect directly' })
        return null
      }
      const host = this.#o.advertise ?? advertisable(this.#o.listen.host, client.localAddress)
      const handedOut = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
      const args = [...cmd.args]
      args[idx] = handedOut
      const { wire: _w, ...rest } = cmd
      const bytes = encodeCommand({ ...rest, args, ...(cmd.wire?.eol !== undefined ? { wire: { eol: cmd.wire.eol } } : {}) })
      this.hub.emit({ ...this.hub.base(state), kind: 'redirect', verb: cmd.verb, real: realText, handedOut })
      return bytes
    })
  }
}

/** Index in args of the address of a referral, or -1. */
export function referralIndex(cmd: CommandEvent): number {
  if (cmd.from !== 'server') return -1
  if (cmd.verb === 'XFR' && (cmd.args[0] === 'NS' || cmd.args[0] === 'SB') && cmd.args[1] !== undefined && cmd.args[1] !== '0') return 1
  if (cmd.verb === 'RNG' && cmd.args.length >= 2) return 1
  return -1
}

/** The cookie of a switchboard's first command (`USR t account cookie` or `ANS t account cookie sid`). */
export function cookieOf(first: Buffer): string | null {
  const lf = first.indexOf(0x0a)
  const line = first.subarray(0, lf < 0 ? first.length : lf).toString('latin1').trim()
  const t = line.split(/[ \t]+/)
  if (t[0] === 'USR' && t.length === 4 && !['MD5', 'TWN', 'SSO', 'SHA', 'CTP'].includes(t[2]!)) return t[3]!
  if (t[0] === 'ANS' && t.length === 5) return t[3]!
  return null
}

function advertisable(listenHost: string, localAddress: string | undefined): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost
  const a = localAddress ?? '127.0.0.1'
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}
