/**
 * The live HTTP gateway interceptor: an HTTP listener, built on http-proxy, for MSN clients that
 * tunnel MSNP through gateway.dll (http-gateway.md). It serves
 * - reverse mode: clients that reach msnscope as their gateway host (hosts file, DNS); requests
 *   go on to the real gateway, and GW-IP / X-MSN-Host in every answer are replaced with
 *   msnscope's address so that the client keeps coming back, the real one remembered per session;
 * - forward-proxy mode: clients that name msnscope as their HTTP proxy (absolute URIs). Gateway
 *   requests are relayed and decoded; anything else gets 403 unless `allowAnyHttp`; CONNECT to
 *   an MSNP port becomes a TCP relay, exactly as on the TCP proxy (gateway-connect.ts);
 * - transparent mode (`mode: 'transparent'`): the firewall redirects port-80 traffic here.
 *   Gateway requests are decoded and go on to their original destination (gateway-transparent.ts),
 *   GW-IP left alone where the firewall redirects its port anyway; any other HTTP passes through
 *   untouched to its original destination. What was not redirected is served as above.
 *
 * Each SessionID is one logical connection (transport `http`): session-open at its open
 * request, its bodies decoded and decided command by command with the same Decider as the TCP
 * proxy (gateway-session.ts), one request at a time (gateway-exchange.ts), exactly one
 * session-close (Session=close, an error answer, idle timeout, a rule, or shutdown). Empty polls
 * are counted (`stats` events), not reported one by one.
 *
 * Never: let a request, an answer or a failure of one session touch another, or crash on input.
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { DEFAULT_LIMITS, type Limits } from '../protocol/decoder.js'
import type { Side } from '../protocol/events.js'
import { parseGatewayTarget, sessionKey, type GatewayRequest } from '../protocol/gateway.js'
import type { EventSink, HttpEvent } from '../events.js'
import { MsnscopeError } from '../errors.js'
import { passThrough, type Decider } from '../rules/decision.js'
import { SessionTracker } from '../session/tracker.js'
import { handleConnect } from './gateway-connect.js'
import { answer, BodyReader, hostHeader, ignore, originForm } from './gateway-http.js'
import { GatewayExchanges, type Exchange } from './gateway-exchange.js'
import { GatewaySession, type GatewayVia, type RequestInfo } from './gateway-session.js'
import { TransparentDestinations, tunnel, type Destination, type TransparentRoute } from './gateway-transparent.js'
import { GatewayUpstream } from './gateway-upstream.js'
import { endpoint, EventHub, splitHostPort } from './hub.js'
import { requireOriginalDst } from './original-dst.js'
import type { Relay } from './relay.js'
import { cookieOf } from './tcp-proxy.js'

export interface HttpGatewayOptions {
  listen: { host: string; port: number }
  /** the real gateway for reverse-mode clients (default gateway.messenger.hotmail.com:80) */
  upstream?: { host: string; port: number }
  /** relay any HTTP request and any CONNECT, not only MSN gateway traffic */
  allowAnyHttp?: boolean
  /** the host written into GW-IP for reverse-mode clients (default: the address the client reached) */
  advertise?: string
  /** local address for connections to gateways and servers */
  dialFrom?: string
  decider?: Decider
  hub?: EventHub
  tracker?: SessionTracker
  limits?: Partial<Limits>
  /** largest request or answer body (default 2 MiB) */
  maxBody?: number
  /** gateway sessions and CONNECT relays open at once (default 1000) */
  maxSessions?: number
  /** close a gateway session without a request for this long (default 5 minutes) */
  idleTimeoutMs?: number
  /** a request body not complete after this long is dropped (default 30 s) */
  bodyTimeoutMs?: number
  /** give up on a gateway that has not answered after this long (default 60 s) */
  upstreamTimeoutMs?: number
  /** how often a `stats` event is emitted when counters changed; 0: only at close (default 10 s) */
  statsIntervalMs?: number
  /** CONNECT targets on these ports are decoded as MSNP (default [1863]) */
  msnpPorts?: number[]
  /**
   * 'transparent': the firewall redirects clients' HTTP (port 80) here, and each request goes on
   * to its original destination (docs/transparent.md). Default 'explicit': reverse and
   * forward-proxy mode, told apart by each request's target.
   */
  mode?: 'explicit' | 'transparent'
  /** transparent mode: destination ports the firewall redirects here (default [80]); a GW-IP on another port is rewritten */
  redirectedPorts?: number[]
}

export interface GatewayStats {
  requests: number
  polls: number
  emptyPolls: number
  sessionsOpened: number
  sessionsOpen: number
  bytesUp: number
  bytesDown: number
  refused: number
  upstreamErrors: number
  connectRelays: number
  [key: string]: number
}

export const DEFAULT_GATEWAY_UPSTREAM = { host: 'gateway.messenger.hotmail.com', port: 80 }

export class HttpGateway {
  readonly hub: EventHub
  readonly tracker: SessionTracker
  readonly relays = new Set<Relay>()
  readonly #sessions = new Map<string, GatewaySession>()
  /** sessions whose open request has not been answered yet */
  readonly #opening = new Set<GatewaySession>()
  readonly #o: HttpGatewayOptions
  readonly #limits: Limits
  readonly #upstreamGw: { host: string; port: number }
  readonly #up: GatewayUpstream
  readonly #bodies: BodyReader
  readonly #exchanges: GatewayExchanges
  #decider: Decider
  #server: http.Server | undefined
  #timers: NodeJS.Timeout[] = []
  readonly #stats: GatewayStats = { requests: 0, polls: 0, emptyPolls: 0, sessionsOpened: 0, sessionsOpen: 0, bytesUp: 0, bytesDown: 0, refused: 0, upstreamErrors: 0, connectRelays: 0 }
  #statsEmitted = ''
  /** the port the listener got (GW-IP handed to reverse-mode clients names it) */
  #port = 0
  readonly #tunnels = new Set<Duplex>()
  /** transparent mode only */
  readonly #dst: TransparentDestinations | null

  constructor(o: HttpGatewayOptions) {
    if (o.mode === 'transparent') requireOriginalDst()
    this.#o = o
    this.#dst = o.mode === 'transparent' ? new TransparentDestinations(() => this.#listening()) : null
    if (this.#dst !== null) this.#stats.passedThrough = 0
    this.hub = o.hub ?? new EventHub()
    this.tracker = o.tracker ?? new SessionTracker()
    this.#decider = o.decider ?? passThrough
    this.#limits = { ...DEFAULT_LIMITS, ...o.limits }
    this.#upstreamGw = o.upstream ?? DEFAULT_GATEWAY_UPSTREAM
    const maxBody = o.maxBody ?? 2 * 1024 * 1024
    this.#bodies = new BodyReader(maxBody, o.bodyTimeoutMs ?? 30_000)
    this.#up = new GatewayUpstream({ timeoutMs: o.upstreamTimeoutMs ?? 60_000, maxBody, ...(o.dialFrom !== undefined ? { localAddress: o.dialFrom } : {}) })
    this.#exchanges = new GatewayExchanges({
      hub: this.hub, up: this.#up, stats: this.#stats, upstreamPort: this.#upstreamGw.port, redirectedPorts: o.redirectedPorts ?? [80],
      closeSession: (s, reason) => this.#closeSession(s, reason),
      learnSession: (s, sid) => this.#learnSession(s, sid),
      advertised: (s) => this.#advertised(s),
    })
  }

  addSink(sink: EventSink): () => void { return this.hub.addSink(sink) }
  set decider(d: Decider) { this.#decider = d }
  get decider(): Decider { return this.#decider }

  /** A snapshot of the counters (requests, polls, empty polls, sessions, bytes …). */
  get stats(): GatewayStats { return { ...this.#stats, sessionsOpen: this.#sessions.size + this.#opening.size + this.relays.size } }

  get address(): { host: string; port: number } {
    const a = this.#listening()
    if (a === null) throw new Error('gateway is not listening')
    return { host: a.address, port: a.port }
  }

  #listening(): { address: string; port: number } | null {
    const a = this.#server?.address()
    return a === null || a === undefined || typeof a === 'string' ? null : a
  }

  /** The logical connection of an open gateway session (by conn id). */
  session(conn: string): GatewaySession | undefined {
    for (const s of this.#sessions.values()) if (s.conn === conn) return s
    for (const s of this.#opening) if (s.conn === conn) return s
    return undefined
  }

  /**
   * Send bytes msnscope made itself: toward the client in the session's next answer; toward the
   * server in a request of msnscope's own once the session has no request outstanding.
   */
  send(conn: string, to: Side, bytes: Buffer): boolean {
    const s = this.session(conn)
    if (s === undefined || s.closed) return false
    if (to === 'client') s.toClient.push(bytes)
    else { s.toServer.push(bytes); this.#exchanges.flushToServer(s) }
    return true
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000 })
    server.on('request', (req, res) => this.#onRequest(req, res))
    if (this.#dst !== null) server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#transparentTunnel(req, socket, head))
    server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#transparentTunnel(req, socket, head) || handleConnect({
      hub: this.hub, tracker: this.tracker, decider: () => this.#decider, limits: this.#limits,
      idleTimeoutMs: this.#o.idleTimeoutMs ?? 5 * 60_000, ...(this.#o.dialFrom !== undefined ? { dialFrom: this.#o.dialFrom } : {}),
      msnpPorts: this.#o.msnpPorts ?? [1863], allowAny: this.#o.allowAnyHttp === true,
      room: () => (this.#o.maxSessions ?? 1000) - this.stats.sessionsOpen, relays: this.relays, tunnels: this.#tunnels,
      counted: (what) => { this.#stats[what]++ },
    }, req, socket, head))
    server.on('clientError', (_err, socket) => { if (!socket.destroyed) socket.destroy() })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new MsnscopeError('ELISTEN', `cannot listen on ${this.#o.listen.host}:${this.#o.listen.port}: ${err.code ?? err.message}`, { cause: err })))
      server.listen(this.#o.listen.port, this.#o.listen.host, () => resolve())
    })
    server.on('error', () => { /* accept errors are per connection */ })
    this.#server = server
    this.#port = this.address.port
    const idle = this.#o.idleTimeoutMs ?? 5 * 60_000
    if (idle > 0) this.#every(Math.max(250, Math.min(idle / 4, 30_000)), () => this.#sweep(idle))
    const statsEvery = this.#o.statsIntervalMs ?? 10_000
    if (statsEvery > 0) this.#every(statsEvery, () => this.#emitStats())
    return this.address
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    for (const s of [...this.#sessions.values(), ...this.#opening]) this.#closeSession(s, 'proxy shutdown')
    for (const r of [...this.relays]) r.close('proxy shutdown')
    for (const t of this.#tunnels) t.destroy()
    const server = this.#server
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
    }
    this.#up.close()
    this.#bodies.close()
    this.#emitStats()
  }

  #every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms)
    t.unref()
    this.#timers.push(t)
  }

  #emitStats(): void {
    const counters = this.stats
    const key = JSON.stringify(counters)
    if (key === this.#statsEmitted) return
    this.#statsEmitted = key
    this.hub.emit({ conn: '-', transport: 'http', client: null, server: null, role: '?', kind: 'stats', counters })
  }

  #sweep(idleMs: number): void {
    const now = Date.now()
    for (const s of [...this.#sessions.values(), ...this.#opening]) {
      if (s.pending > 0 || now - s.lastActivity < idleMs) continue
      this.hub.emit({ ...this.hub.base(s.state), kind: 'limit', limit: 'idle-timeout', detail: `no request for ${idleMs} ms` })
      this.#closeSession(s, 'idle timeout')
    }
  }

  #closeSession(s: GatewaySession, reason: string): void {
    if (s.closed) return
    s.flush()
    s.closed = true
    if (s.key !== null && this.#sessions.get(s.key) === s) this.#sessions.delete(s.key)
    this.#opening.delete(s)
    const { polls, emptyPolls, requests } = s.counters
    this.hub.emit({ ...this.hub.base(s.state), kind: 'session-close', reason: `${reason} (${requests} requests, ${polls} polls, ${emptyPolls} empty)`, bytes: { ...s.bytes } })
    this.tracker.close(s.conn)
  }

  /** An http event outside any session (refusals, unknown SessionIDs). */
  #looseHttp(req: http.IncomingMessage, status: number | null, note: string, info?: RequestInfo): void {
    const ev: Omit<HttpEvent, 'seq' | 'ts'> = { conn: '-', transport: 'http', client: endpoint(req.socket.remoteAddress, req.socket.remotePort), server: null, role: '?', kind: 'http', from: 'client', bodyLength: info?.bodyLength ?? 0 }
    ev.method = req.method ?? '?'
    ev.url = req.url ?? ''
    if (status !== null) ev.status = status
    if (info?.action != null) ev.action = info.action
    if (info?.sessionId != null) ev.sessionId = info.sessionId
    ev.note = note
    this.hub.emit(ev)
  }

  #refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, note: string): void {
    this.#stats.refused++
    this.#looseHttp(req, status, note)
    answer(res, status, `msnscope: ${note}\n`)
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#stats.requests++
    res.on('error', ignore)
    req.on('error', ignore)
    const url = req.url ?? '/'
    const target = parseGatewayTarget(url)
    if (this.#dst !== null) this.#transparentRequest(req, res, url, target, this.#dst)
    else this.#explicitRequest(req, res, url, target)
  }

  /** Reverse and forward-proxy mode: the request's target says which. */
  #explicitRequest(req: http.IncomingMessage, res: http.ServerResponse, url: string, target: GatewayRequest): void {
    const forward = target.host !== null
    const origin = forward ? splitHostPort(target.host!, 80) : this.#upstreamGw
    if (origin === null) return this.#refuse(req, res, 400, `bad request target ${url}`)
    if (target.isGateway && req.method === 'POST') return this.#startGateway(req, res, target, forward ? 'forward' : 'reverse', origin)
    // CORS preflights belong to the gateway (browser clients); anything else only when allowed.
    if ((target.isGateway && req.method === 'OPTIONS') || this.#o.allowAnyHttp === true) {
      this.#up.relay(req, res, origin, originForm(url), (error) => {
        this.#stats.upstreamErrors++
        this.#looseHttp(req, 502, `relay failed: ${error}`)
      })
      return
    }
    this.#refuse(req, res, 403, forward ? 'only MSN gateway traffic is relayed (see --allow-any-http)' : 'not an MSN gateway request')
  }

  /** Transparent mode: a request goes where its client sent it (gateway-transparent.ts). */
  #transparentRequest(req: http.IncomingMessage, res: http.ServerResponse, url: string, target: GatewayRequest, dst: TransparentDestinations): void {
    const act = (route: TransparentRoute): void => {
      if (route.kind === 'gateway') this.#startGateway(req, res, target, 'transparent', route.to)
      else if (route.kind === 'pass') this.#passThrough(req, res, route.to, url)
      else this.#explicitRequest(req, res, url, target)
    }
    const route = dst.route(req, target, this.#o.allowAnyHttp === true)
    if (!(route instanceof Promise)) return act(route)
    route.then(act).catch((err: unknown) => {
      this.#looseHttp(req, 500, `internal error: ${String(err)}`)
      answer(res, 500, 'msnscope: internal error\n')
    })
  }

  /**
   * Transparent mode, a request that takes over its connection (Upgrade, CONNECT): tunnelled
   * untouched to its original destination when redirected; otherwise CONNECTs are left to
   * gateway-connect.ts (false) and upgrades refused, or with allowAnyHttp sent where Host points.
   */
  #transparentTunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const dst = this.#dst
    if (dst === null) return false
    const redirected = dst.redirected(req.socket)
    if (redirected === null && req.method === 'CONNECT') return false
    socket.on('error', ignore)
    const act = (to: Destination | null): void => {
      if (to === null) {
        this.#stats.refused++
        this.#looseHttp(req, 403, 'not an MSN gateway request')
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
        return
      }
      this.#stats.passedThrough = (this.#stats.passedThrough ?? 0) + 1
      tunnel(req, socket, head, to, {
        tunnels: this.#tunnels, ...(this.#o.dialFrom !== undefined ? { localAddress: this.#o.dialFrom } : {}),
        onError: (error) => { this.#stats.upstreamErrors++; this.#looseHttp(req, 502, `relay to ${hostHeader(to)} failed: ${error}`) },
      })
    }
    if (redirected !== null) act(redirected)
    else if (this.#o.allowAnyHttp === true) dst.named(req).then(act).catch(() => socket.destroy())
    else act(null)
    return true
  }

  /** Relay a request untouched, target form and Host included (transparent mode: not MSN traffic). */
  #passThrough(req: http.IncomingMessage, res: http.ServerResponse, to: Destination, url: string): void {
    this.#stats.passedThrough = (this.#stats.passedThrough ?? 0) + 1
    this.#up.relay(req, res, to, url, (error) => {
      this.#stats.upstreamErrors++
      this.#looseHttp(req, 502, `relay to ${hostHeader(to)} failed: ${error}`)
    }, !url.startsWith('/'))
  }

  #startGateway(req: http.IncomingMessage, res: http.ServerResponse, target: GatewayRequest, via: GatewayVia, origin: Destination): void {
    this.#gatewayRequest(req, res, target, via, origin).catch((err) => {
      this.#looseHttp(req, 500, `internal error: ${String(err)}`)
      answer(res, 500, 'msnscope: internal error\n')
    })
  }

  async #gatewayRequest(req: http.IncomingMessage, res: http.ServerResponse, target: GatewayRequest, via: GatewayVia, origin: Destination): Promise<void> {
    const received = await this.#bodies.read(req)
    const url = req.url ?? ''
    const info: RequestInfo = { url, action: target.action, sessionId: target.sessionId, bodyLength: received.ok ? received.body.length : received.got, note: null }
    const known = target.sessionId !== null ? this.#sessions.get(sessionKey(target.sessionId)) : undefined
    if (!received.ok) {
      if (known !== undefined) known.requestEvent({ ...info, note: received.reason })
      else this.#looseHttp(req, null, received.reason, info)
      answer(res, received.status, `msnscope: ${received.reason}\n`)
      if (received.status === 408 || received.status === 413) req.socket.destroy()
      return
    }
    const exchange: Exchange = { req, res, target, dest: via === 'transparent' ? origin : null, path: originForm(url), body: received.body, info }
    if (target.action === 'open') {
      const max = this.#o.maxSessions ?? 1000
      if (this.stats.sessionsOpen >= max) {
        this.hub.emit({ conn: '-', transport: 'http', client: endpoint(req.socket.remoteAddress, req.socket.remotePort), server: null, role: '?', kind: 'limit', limit: 'max-sessions', detail: `refused a gateway open: ${max} sessions open` })
        return this.#refuse(req, res, 503, 'too many sessions')
      }
      const s = this.#open(req, target, via, origin, received.body)
      await s.run(() => this.#exchanges.exchange(s, exchange))
      return
    }
    if (target.sessionId === null) return this.#refuse(req, res, 400, 'a gateway request without Action=open needs a SessionID')
    if (known === undefined || known.closed) {
      this.#stats.refused++
      this.#looseHttp(req, 400, 'unknown SessionID; answered 400', info)
      answer(res, 400, 'msnscope: unknown SessionID\n')
      return
    }
    await known.run(() => this.#exchanges.exchange(known, exchange))
  }

  #open(req: http.IncomingMessage, target: GatewayRequest, via: GatewayVia, origin: Destination, body: Buffer): GatewaySession {
    const sb = target.server?.toUpperCase() === 'SB'
    const state = this.tracker.open({
      conn: this.hub.nextConnId(), transport: 'http', client: endpoint(req.socket.remoteAddress, req.socket.remotePort),
      server: endpoint(origin.host, origin.port), ...(sb ? {} : { role: 'NS' as const }),
    })
    const s = new GatewaySession({ state, via, gateway: origin, hub: this.hub, tracker: this.tracker, decider: () => this.#decider, limits: this.#limits })
    s.localAddress = req.socket.localAddress ?? null
    this.#opening.add(s)
    this.#stats.sessionsOpened++
    // A switchboard session belongs to the notification session whose XFR SB or RNG handed out
    // its cookie (the tracker links them when it sees the first command; the event says so now).
    const cookie = sb ? cookieOf(body) : null
    const ref = cookie === null ? undefined : this.tracker.referralByCookie(cookie)
    this.hub.emit({
      ...this.hub.base(state), kind: 'session-open',
      ...(sb ? { role: 'SB' as const } : {}),
      ...(ref !== undefined ? { parent: ref.parent, via: ref.via, account: ref.account, dialect: ref.dialect } : {}),
    })
    return s
  }

  #learnSession(s: GatewaySession, sid: string): void {
    s.upstreamSid = sid
    if (s.key !== null && sid.startsWith(s.key) && (sid.length === s.key.length || sid.charCodeAt(s.key.length) === 0x2e)) return
    const key = sessionKey(sid)
    if (s.key !== null && this.#sessions.get(s.key) === s) this.#sessions.delete(s.key)
    s.key = key
    this.#opening.delete(s)
    const other = this.#sessions.get(key)
    if (other !== undefined && other !== s) this.#closeSession(other, 'the gateway reused its SessionID')
    this.#sessions.set(key, s)
  }

  /** The address reverse-mode clients are sent back to: msnscope's own. */
  #advertised(s: GatewaySession): string {
    const listen = this.#o.listen
    let host = this.#o.advertise
    if (host === undefined) {
      if (listen.host !== '0.0.0.0' && listen.host !== '::') host = listen.host
      else {
        const a = s.localAddress ?? '127.0.0.1'
        host = a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
      }
    }
    const port = this.#port !== 0 ? this.#port : listen.port
    const h = host.includes(':') ? `[${host}]` : host
    return port === 80 ? h : `${h}:${port}`
  }
}
