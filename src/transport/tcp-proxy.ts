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
import { isOwnListener, originalDestination, requireOriginalDst } from './original-dst.js'
import { RedirectPool, type RedirectTarget } from './redirects.js'
import { Relay } from './relay.js'
import { looksLikeMsnp, parseSocks, socks4Reply, socks5Reply, SOCKS5, type SocksRequest } from './socks.js'

/**
 * - explicit: clients connect to msnscope as their server; referrals are rewritten to the proxy;
 * - transparent: the firewall redirects clients' connections here; each goes to its original
 *   destination, and referrals to ports the firewall does not redirect are rewritten;
 * - socks5: clients use msnscope as their SOCKS5/SOCKS4a proxy; every connection comes through
 *   it anyway, so referrals are left alone.
 */
export type ProxyMode = 'explicit' | 'transparent' | 'socks5'

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
  /**
   * decode fields and payloads of TCP commands (default true). False frames them only: for a
   * decider that reads no fields (no rules, no intercept) and sinks that decode what they need
   * with ensureDecoded (the live JSON output, after forwarding).
   */
  decode?: boolean
  maxRedirectListeners?: number
  redirectIdleMs?: number
  redirectPorts?: [number, number]
  decider?: Decider
  hub?: EventHub
  tracker?: SessionTracker
  /** every chunk as received, per connection (pcap export) */
  onBytes?: (state: ConnState, from: Side, bytes: Buffer) => void
  mode?: ProxyMode
  /** transparent mode: destination ports the firewall redirects to msnscope (default [1863]) */
  redirectedPorts?: number[]
}

/** The first line of a connection on the main port is read before choosing its upstream. */
const MAX_PEEK = 4096
const PEEK_TIMEOUT_MS = 30_000
/** how long a SOCKS client may take to send its first bytes before the stream is piped raw */
const SOCKS_SNIFF_MS = 2_000

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
  /** how each connection reached the proxy, for the referral decision */
  readonly #via = new Map<string, ProxyMode>()
  readonly #mode: ProxyMode

  constructor(o: TcpProxyOptions) {
    this.#o = o
    this.hub = o.hub ?? new EventHub()
    this.tracker = o.tracker ?? new SessionTracker()
    this.#decider = o.decider ?? passThrough
    this.#limits = { ...DEFAULT_LIMITS, ...o.limits }
    this.#mode = o.mode ?? 'explicit'
    if (this.#mode === 'transparent') requireOriginalDst()
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
    if (target !== null) { this.#startRelay(socket, target.real, target.kind, undefined, release, 'explicit'); return }
    if (this.#mode === 'socks5') { this.#acceptSocks(socket, release); return }
    if (this.#mode === 'transparent') {
      const original = originalDestination(socket)
      if (original !== null && !this.#isSelf(original)) {
        this.#startRelay(socket, original, null, undefined, release, 'transparent')
        return
      }
      // not redirected (someone connected to the proxy's own address): act as the explicit proxy
    }
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
        if (real !== null) { this.#startRelay(socket, real, 'SB', buffered, release, 'explicit'); return }
      }
      this.#startRelay(socket, this.#o.upstream, null, buffered, release, 'explicit')
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

  /** A destination that is msnscope's own listener: the connection was not redirected. */
  #isSelf(d: { host: string; port: number }): boolean {
    const a = this.#server?.address()
    return a !== null && a !== undefined && typeof a !== 'string' && isOwnListener(d, a)
  }

  /** SOCKS5/SOCKS4a: read the request, connect, answer, then relay (MSNP decoded, anything else piped). */
  #acceptSocks(socket: net.Socket, release: () => void): void {
    this.#pendingSockets.add(socket)
    let buffered: Buffer = Buffer.alloc(0)
    let greeted = false
    const finish = (): void => {
      socket.removeListener('data', onData)
      socket.setTimeout(0)
      this.#pendingSockets.delete(socket)
      socket.pause()
    }
    const fail = (why: string, reply: Buffer): void => {
      finish()
      const client = endpoint(socket.remoteAddress, socket.remotePort)
      this.hub.emit({ conn: '-', transport: 'tcp', client, server: null, role: '?', kind: 'limit', limit: 'socks', detail: `${client ?? 'a client'}: ${why}` })
      if (reply.length > 0) socket.end(reply)
      else socket.destroy()
      release()
    }
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      if (buffered.length > 4096) { fail('SOCKS request too long', Buffer.alloc(0)); return }
      const step = parseSocks(buffered, greeted)
      if ('error' in step) { fail(step.error, step.reply); return }
      if ('need' in step) {
        if (step.reply !== undefined && !greeted) {
          socket.write(step.reply)
          greeted = true
          buffered = buffered.subarray(2 + buffered.readUInt8(1))
        }
        return
      }
      finish()
      if (step.reply !== undefined) socket.write(step.reply)
      void this.#socksConnect(socket, step.request, release)
    }
    socket.on('data', onData)
    socket.setTimeout(PEEK_TIMEOUT_MS, () => fail('no SOCKS request in time', Buffer.alloc(0)))
    socket.resume()
  }

  async #socksConnect(socket: net.Socket, req: SocksRequest, release: () => void): Promise<void> {
    const up = net.connect({ host: req.host, port: req.port, allowHalfOpen: true, ...(this.#o.dialFrom !== undefined ? { localAddress: this.#o.dialFrom } : {}) })
    const ok = await new Promise<boolean>((resolve) => {
      up.once('connect', () => resolve(true))
      up.once('error', () => resolve(false))
    })
    if (!ok) {
      const client = endpoint(socket.remoteAddress, socket.remotePort)
      this.hub.emit({ conn: '-', transport: 'tcp', client, server: `${req.host}:${req.port}`, role: '?', kind: 'limit', limit: 'socks', detail: `${req.host}:${req.port} unreachable` })
      socket.end(req.version === 5 ? socks5Reply(SOCKS5.HOST_UNREACHABLE) : socks4Reply(false))
      release()
      return
    }
    socket.write(req.version === 5 ? socks5Reply(SOCKS5.SUCCEEDED, { address: up.localAddress ?? '0.0.0.0', port: up.localPort ?? 0 }) : socks4Reply(true))
    // MSNP clients speak first; peek at their first line (a short wait) before choosing
    let first = Buffer.from(req.rest)
    const decide = (): void => {
      socket.removeListener('data', onData)
      clearTimeout(timer)
      socket.pause()
      if (looksLikeMsnp(first) && !/^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(first.toString('latin1'))) {
        this.#startRelay(socket, { host: req.host, port: req.port }, null, first, release, 'socks5', up)
        return
      }
      // not MSNP: relay untouched
      if (first.length > 0) up.write(first)
      socket.pipe(up)
      up.pipe(socket)
      socket.on('error', () => up.destroy())
      up.on('error', () => socket.destroy())
      socket.once('close', () => { up.destroy(); release() })
      socket.resume()
    }
    const onData = (chunk: Buffer): void => {
      first = Buffer.concat([first, chunk])
      if (first.includes(0x0a) || first.length >= MAX_PEEK) decide()
    }
    const timer = setTimeout(decide, SOCKS_SNIFF_MS)
    if (first.includes(0x0a)) { decide(); return }
    socket.on('data', onData)
    socket.resume()
  }

  #startRelay(socket: net.Socket, real: { host: string; port: number }, kind: 'NS' | 'SB' | null, preface: Buffer | undefined, release: () => void, via: ProxyMode, upstreamSocket?: net.Socket): void {
    const client = endpoint(socket.remoteAddress, socket.remotePort)
    const server = endpoint(real.host, real.port)
    const state = this.tracker.open({ conn: this.hub.nextConnId(), transport: 'tcp', client, server, ...(kind === 'NS' ? { role: 'NS' } : {}) })
    // the explicit proxy's main upstream is a dispatch server until it logs the client in itself
    // (then NS); a transparent or SOCKS connection's role shows in its first commands
    if (state.role === '?' && (kind !== null || via === 'explicit')) state.role = kind ?? 'DS'
    this.#via.set(state.conn, via)
    const onBytes = this.#o.onBytes
    const relay = new Relay({
      state, client: socket, tracker: this.tracker, hub: this.hub, decider: (e, ctx) => this.#decider(e, ctx),
      upstream: { host: real.host, port: real.port, ...(this.#o.dialFrom !== undefined ? { localAddress: this.#o.dialFrom } : {}) },
      limits: this.#limits, decode: this.#o.decode ?? true, idleTimeoutMs: this.#o.idleTimeoutMs ?? 15 * 60_000,
      rewriteServer: (cmd, st) => this.#rewriteReferral(cmd, st, socket),
      onClose: (r) => { this.relays.delete(r); this.#via.delete(r.state.conn); release() },
      ...(upstreamSocket !== undefined ? { upstreamSocket } : {}),
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
    const via = this.#via.get(state.conn) ?? 'explicit'
    if (via === 'socks5') {
      this.hub.emit({ ...base, kind: 'redirect', verb: cmd.verb, real: realText, handedOut: null, note: 'left alone: the client reaches it through the SOCKS proxy' })
      return null
    }
    if (via === 'transparent' && (this.#o.redirectedPorts ?? [1863]).includes(real.port)) {
      this.hub.emit({ ...base, kind: 'redirect', verb: cmd.verb, real: realText, handedOut: null, note: `left alone: the firewall redirects port ${real.port} to msnscope` })
      return null
    }
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
