/**
 * The live HTTP gateway interceptor: an HTTP listener, built on http-proxy, for MSN clients that
 * tunnel MSNP through gateway.dll (http-gateway.md). It serves
 * - reverse mode: clients that reach msnscope as their gateway host (hosts file, DNS); requests
 *   go on to the real gateway, and GW-IP / X-MSN-Host in every answer are replaced with
 *   msnscope's address so that the client keeps coming back, the real one remembered per session;
 * - forward-proxy mode: clients that name msnscope as their HTTP proxy (absolute URIs). Gateway
 *   requests are relayed and decoded; anything else gets 403 unless `allowAnyHttp`; CONNECT to
 *   an MSNP port becomes a TCP relay (relay.ts), exactly as on the TCP proxy.
 *
 * Each SessionID is one logical connection (transport `http`): session-open at its open
 * request, its bodies decoded and decided command by command with the same Decider as the TCP
 * proxy, exactly one session-close (Session=close, an error answer, idle timeout, a rule, or
 * shutdown). Empty polls are counted (`stats` events), not reported one by one.
 *
 * Never: let a request, an answer or a failure of one session touch another, or crash on input.
 */
import http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { DEFAULT_LIMITS, type Limits } from '../protocol/decoder.js'
import {
  formatMessengerHeader, parseGatewayTarget, parseMessengerHeader, sessionKey, type GatewayRequest,
} from '../protocol/gateway.js'
import type { EventSink, HttpEvent } from '../events.js'
import { MsnscopeError } from '../errors.js'
import { passThrough, type Decider } from '../rules/decision.js'
import { SessionTracker } from '../session/tracker.js'
import { GatewaySession, type BodyResult } from './gateway-session.js'
import { GatewayUpstream, type UpstreamResponse } from './gateway-upstream.js'
import { endpoint, EventHub, splitHostPort } from './hub.js'
import { Relay } from './relay.js'
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

/** Hop-by-hop headers, and those msnscope sets itself. */
const NOT_RELAYED = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length', 'expect'])

interface Exchange {
  /** absent for a request of msnscope's own */
  req?: http.IncomingMessage
  res?: http.ServerResponse
  target?: GatewayRequest
  /** origin-form path and query to send */
  path: string
  body: Buffer
  /** set once the client's connection is gone */
  gone: { value: boolean }
  /** the request event, held back for polls until the answer shows whether it was empty */
  requestEvent: Omit<HttpEvent, 'seq' | 'ts' | keyof ReturnType<EventHub['base']>>
}

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
  #decider: Decider
  #server: http.Server | undefined
  #timers: NodeJS.Timeout[] = []
  readonly #stats: GatewayStats = { requests: 0, polls: 0, emptyPolls: 0, sessionsOpened: 0, sessionsOpen: 0, bytesUp: 0, bytesDown: 0, refused: 0, upstreamErrors: 0, connectRelays: 0 }
  #statsEmitted = ''
  #tunnels = new Set<Duplex>()

  constructor(o: HttpGatewayOptions) {
    this.#o = o
    this.hub = o.hub ?? new EventHub()
    this.tracker = o.tracker ?? new SessionTracker()
    this.#decider = o.decider ?? passThrough
    this.#limits = { ...DEFAULT_LIMITS, ...o.limits }
    this.#upstreamGw = o.upstream ?? DEFAULT_GATEWAY_UPSTREAM
    this.#up = new GatewayUpstream({
      timeoutMs: o.upstreamTimeoutMs ?? 60_000, maxBody: this.#maxBody,
      ...(o.dialFrom !== undefined ? { localAddress: o.dialFrom } : {}),
    })
  }

  get #maxBody(): number { return this.#o.maxBody ?? 2 * 1024 * 1024 }

  addSink(sink: EventSink): () => void { return this.hub.addSink(sink) }
  set decider(d: Decider) { this.#decider = d }
  get decider(): Decider { return this.#decider }

  /** A snapshot of the counters (requests, polls, empty polls, sessions, bytes …). */
  get stats(): GatewayStats { return { ...this.#stats, sessionsOpen: this.#sessions.size + this.#opening.size } }

  get address(): { host: string; port: number } {
    const a = this.#server?.address()
    if (a === null || a === undefined || typeof a === 'string') throw new Error('gateway is not listening')
    return { host: a.address, port: a.port }
  }

  /** The logical connection of an open gateway session (by conn id), for injection from outside. */
  session(conn: string): GatewaySession | undefined {
    for (const s of this.#sessions.values()) if (s.conn === conn) return s
    return undefined
  }

  /**
   * Send bytes msnscope made itself: toward the client in the session's next answer; toward the
   * server in a request of msnscope's own once the session has no request outstanding.
   */
  send(conn: string, to: 'client' | 'server', bytes: Buffer): boolean {
    const s = this.session(conn)
    if (s === undefined || s.closed) return false
    if (to === 'client') s.toClient.push(bytes)
    else { s.toServer.push(bytes); this.#flushToServer(s) }
    return true
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000 })
    server.on('request', (req, res) => this.#onRequest(req, res))
    server.on('connect', (req, socket, head) => this.#onConnect(req, socket, head))
    server.on('clientError', (_err, socket) => { if (!socket.destroyed) socket.destroy() })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new MsnscopeError('ELISTEN', `cannot listen on ${this.#o.listen.host}:${this.#o.listen.port}: ${err.code ?? err.message}`, { cause: err })))
      server.listen(this.#o.listen.port, this.#o.listen.host, () => resolve())
    })
    server.on('error', () => { /* accept errors are per connection */ })
    this.#server = server
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
    this.hub.emit({ conn: '-', transport: 'http', client: null, server: null, role: '?', kind: 'stats', counters: { ...counters } })
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
  #looseHttp(req: http.IncomingMessage, fields: Omit<HttpEvent, 'seq' | 'ts' | 'kind' | 'conn' | 'transport' | 'client' | 'server' | 'role'>): void {
    this.hub.emit({ conn: '-', transport: 'http', client: endpoint(req.socket.remoteAddress, req.socket.remotePort), server: null, role: '?', kind: 'http', ...fields })
  }

  #refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, note: string): void {
    this.#stats.refused++
    this.#looseHttp(req, { from: 'client', method: req.method ?? '?', url: req.url ?? '', status, bodyLength: 0, note })
    answer(res, status, `msnscope: ${note}\n`)
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#stats.requests++
    res.on('error', () => {})
    req.on('error', () => {})
    const target = parseGatewayTarget(req.url ?? '/')
    const forward = target.host !== null
    const origin = forward ? splitHostPort(target.host!, 80) : this.#upstreamGw
    const path = originForm(req.url ?? '/')
    if (origin === null) return this.#refuse(req, res, 400, `bad request target ${req.url ?? ''}`)
    if (target.isGateway && req.method === 'POST') {
      this.#gatewayRequest(req, res, target, forward, origin, path).catch((err) => {
        this.#looseHttp(req, { from: 'client', method: 'POST', url: req.url ?? '', bodyLength: 0, note: `internal error: ${String(err)}` })
        answer(res, 500, 'msnscope: internal error\n')
      })
      return
    }
    // CORS preflights belong to the gateway (browser clients); anything else only when allowed.
    if ((target.isGateway && req.method === 'OPTIONS') || this.#o.allowAnyHttp === true) {
      this.#up.relay(req, res, origin, path, (error) => {
        this.#stats.upstreamErrors++
        this.#looseHttp(req, { from: 'server', method: req.method ?? '?', url: req.url ?? '', status: 502, bodyLength: 0, note: `relay failed: ${error}` })
      })
      return
    }
    this.#refuse(req, res, 403, forward ? 'only MSN gateway traffic is relayed (see --allow-any-http)' : 'not an MSN gateway request')
  }

  async #gatewayRequest(req: http.IncomingMessage, res: http.ServerResponse, target: GatewayRequest, forward: boolean, origin: { host: string; port: number }, path: string): Promise<void> {
    const gone = { value: false }
    res.on('close', () => { if (!res.writableFinished) gone.value = true })
    const known = target.sessionId !== null ? this.#sessions.get(sessionKey(target.sessionId)) : undefined
    const received = await readBody(req, this.#maxBody, this.#o.bodyTimeoutMs ?? 30_000)
    if (!received.ok) {
      const fields = { from: 'client' as const, method: 'POST', url: req.url ?? '', bodyLength: received.got, note: received.reason }
      if (known !== undefined) this.hub.emit({ ...this.hub.base(known.state), kind: 'http', ...fields })
      else this.#looseHttp(req, fields)
      answer(res, received.status, `msnscope: ${received.reason}\n`)
      if (received.status === 408 || received.status === 413) req.socket.destroy()
      return
    }
    const body = received.body
    const requestEvent: Exchange['requestEvent'] = {
      kind: 'http', from: 'client', method: 'POST', url: req.url ?? '', bodyLength: body.length,
      ...(target.action !== null ? { action: target.action } : {}),
      ...(target.sessionId !== null ? { sessionId: target.sessionId } : {}),
    }
    const exchange: Exchange = { req, res, target, path, body, gone, requestEvent }
    if (target.action === 'open') {
      const open = this.#sessions.size + this.#opening.size + this.relays.size
      const max = this.#o.maxSessions ?? 1000
      if (open >= max) {
        this.hub.emit({ conn: '-', transport: 'http', client: endpoint(req.socket.remoteAddress, req.socket.remotePort), server: null, role: '?', kind: 'limit', limit: 'max-sessions', detail: `refused a gateway open: ${max} sessions open` })
        return this.#refuse(req, res, 503, 'too many sessions')
      }
      const s = this.#open(req, target, forward, origin, body)
      await s.run(() => this.#exchange(s, exchange))
      return
    }
    if (target.sessionId === null) return this.#refuse(req, res, 400, 'a gateway request without Action=open needs a SessionID')
    const s = this.#sessions.get(sessionKey(target.sessionId))
    if (s === undefined || s.closed) {
      this.#looseHttp(req, { ...requestEvent, status: 400, note: 'unknown SessionID; answered 400' })
      this.#stats.refused++
      answer(res, 400, 'msnscope: unknown SessionID\n')
      return
    }
    await s.run(() => this.#exchange(s, exchange))
  }

  #open(req: http.IncomingMessage, target: GatewayRequest, forward: boolean, origin: { host: string; port: number }, body: Buffer): GatewaySession {
    const sb = target.server?.toUpperCase() === 'SB'
    const state = this.tracker.open({
      conn: this.hub.nextConnId(), transport: 'http', client: endpoint(req.socket.remoteAddress, req.socket.remotePort),
      server: endpoint(origin.host, origin.port), ...(sb ? {} : { role: 'NS' as const }),
    })
    const s = new GatewaySession({ state, forward, gateway: origin, hub: this.hub, tracker: this.tracker, decider: () => this.#decider, limits: this.#limits })
    this.#opening.add(s)
    this.#stats.sessionsOpened++
    // A switchboard session is linked to the notification session whose XFR SB or RNG handed out its cookie.
    const cookie = sb ? cookieOf(body) : null
    const ref = cookie === null ? undefined : this.tracker.referralByCookie(cookie)
    this.hub.emit({
      ...this.hub.base(state), kind: 'session-open', ...(sb ? { role: 'SB' as const } : {}),
      ...(ref !== undefined ? { parent: ref.parent, via: ref.via } : {}),
    })
    return s
  }

  /** One request of a session, start to finish: decide, send, decide the answer, answer. */
  async #exchange(s: GatewaySession, x: Exchange): Promise<void> {
    if (s.closed) {
      if (x.res !== undefined) answer(x.res, 400, 'msnscope: session closed\n')
      return
    }
    const hub = this.hub
    s.lastActivity = Date.now()
    s.counters.requests++
    const own = x.req === undefined
    const isPoll = x.body.length === 0 && !own
    if (isPoll) { s.counters.polls++; this.#stats.polls++ }
    this.#stats.bytesUp += x.body.length
    if (!isPoll) hub.emit({ ...hub.base(s.state), ...x.requestEvent })
    const cr: BodyResult = own ? { out: [x.body], back: [], close: null } : await s.process('client', x.body)
    if (s.closed) { if (x.res !== undefined) answer(x.res, 400, 'msnscope: session closed\n'); return }
    const upBody = concat(cr.out)

    const headers: Array<[string, string]> = x.req !== undefined ? this.#requestHeaders(s, x.req) : [['Host', hostHeader(s.gateway)], ['Content-Type', 'application/x-msn-messenger']]
    const path = own ? `/gateway/gateway.dll?SessionID=${s.upstreamSid ?? ''}` : withSessionId(x.path, s.upstreamSid)
    const named = s.forward && x.target !== undefined && x.target.host !== null ? splitHostPort(x.target.host, 80) : null
    const target = named ?? s.gateway
    const r = await this.#up.send({ target, path, headers, body: upBody })
    if (s.closed) { if (x.res !== undefined) answer(x.res, 503, 'msnscope: session closed\n'); return }
    s.lastActivity = Date.now()

    if (!r.ok) {
      this.#stats.upstreamErrors++
      if (isPoll) hub.emit({ ...hub.base(s.state), ...x.requestEvent })
      hub.emit({ ...hub.base(s.state), kind: 'http', from: 'server', status: 502, bodyLength: 0, note: `gateway ${target.host}:${target.port}: ${r.error}` })
      if (x.res !== undefined) answer(x.res, 502, 'msnscope: the gateway did not answer properly\n')
      this.#closeSession(s, `gateway error: ${r.error}`)
      return
    }
    const up = r.res
    this.#stats.bytesDown += up.body.length
    const value = headerValue(up, 'x-msn-messenger')
    const mh = value !== null ? parseMessengerHeader(value) : null
    if (up.status !== 200 || mh?.sessionId == null) {
      const note = up.status !== 200 ? `gateway answered ${up.status}` : 'gateway answer without a SessionID'
      if (isPoll) hub.emit({ ...hub.base(s.state), ...x.requestEvent })
      hub.emit({ ...hub.base(s.state), kind: 'http', from: 'server', status: up.status, bodyLength: up.body.length, note: `${note}; session ended` })
      if (x.res !== undefined && !x.gone.value) relayAnswer(x.res, up)
      this.#closeSession(s, note)
      return
    }
    this.#learnSession(s, mh.sessionId)
    const realHost = headerValue(up, 'x-msn-host')
    const gwChanged = this.#learnGateway(s, realHost ?? mh.gwIp)
    const sr = await s.process('server', up.body)
    if (s.closed) { if (x.res !== undefined) answer(x.res, 503, 'msnscope: session closed\n'); return }
    s.toServer.push(...sr.back)
    const closing = mh.sessionClose ? 'gateway closed the session' : cr.close ?? sr.close
    const forClient = own ? [] : s.toClient.splice(0)
    const clientBody = concat([...forClient, ...cr.back, ...sr.out])
    if (own) s.toClient.push(clientBody)
    const empty = isPoll && clientBody.length === 0 && closing === null && !gwChanged
    if (empty) { s.counters.emptyPolls++; this.#stats.emptyPolls++ } else {
      if (isPoll) hub.emit({ ...hub.base(s.state), ...x.requestEvent })
      hub.emit({
        ...hub.base(s.state), kind: 'http', from: 'server', status: 200, sessionId: mh.sessionId, bodyLength: up.body.length,
        ...(mh.gwIp !== null ? { gwIp: mh.gwIp } : {}), ...(closing !== null ? { sessionClose: true } : {}),
        ...(own ? { note: 'answer to msnscope\'s own request; kept for the client\'s next answer' } : {}),
      })
    }
    if (x.res !== undefined) {
      if (x.gone.value || x.res.destroyed) {
        if (clientBody.length > 0) s.toClient.unshift(clientBody)
        hub.emit({ ...hub.base(s.state), kind: 'http', from: 'client', bodyLength: 0, note: closing !== null ? `client gave up before the answer; ${clientBody.length} bytes lost with the session` : `client gave up before the answer; ${clientBody.length} bytes kept for its next one` })
      } else {
        this.#answerClient(s, x.res, up, mh.items, clientBody, closing !== null && !mh.sessionClose)
        s.clientSid = mh.sessionId
      }
    }
    if (closing !== null) { this.#closeSession(s, closing); return }
    if (s.toServer.length > 0) this.#flushToServer(s)
  }

  /** A request of msnscope's own carries injected bytes once nothing is outstanding for the session. */
  #flushToServer(s: GatewaySession): void {
    if (s.closed || s.toServer.length === 0) return
    // Queued behind whatever the session has outstanding: the gateway answers 400 to overlapping requests.
    void s.run(async () => {
      const body = concat(s.toServer.splice(0))
      if (body.length === 0 || s.closed || s.upstreamSid === null) return
      const sid = s.upstreamSid
      const requestEvent: Exchange['requestEvent'] = { kind: 'http', from: 'client', method: 'POST', url: `/gateway/gateway.dll?SessionID=${sid}`, sessionId: sid, bodyLength: body.length, note: 'sent by msnscope' }
      await this.#exchange(s, { path: '', body, gone: { value: true }, requestEvent })
    })
  }

  #learnSession(s: GatewaySession, sid: string): void {
    const key = sessionKey(sid)
    s.upstreamSid = sid
    if (s.key === key) return
    if (s.key !== null && this.#sessions.get(s.key) === s) this.#sessions.delete(s.key)
    s.key = key
    this.#opening.delete(s)
    const other = this.#sessions.get(key)
    if (other !== undefined && other !== s) this.#closeSession(other, 'the gateway reused its SessionID')
    this.#sessions.set(key, s)
  }

  /** Remember where the session really lives; true when that changed. */
  #learnGateway(s: GatewaySession, real: string | null): boolean {
    if (real === null || real === s.realGwIp) return false
    const first = s.realGwIp === null
    s.realGwIp = real
    const hp = splitHostPort(real, this.#upstreamGw.port)
    if (hp !== null) s.gateway = hp
    const handedOut = s.forward ? null : this.#advertised(s)
    this.hub.emit({
      ...this.hub.base(s.state), kind: 'redirect', verb: 'GW-IP', real, handedOut,
      ...(s.forward ? { note: 'client uses msnscope as its HTTP proxy; left alone' } : hp === null ? { note: 'not a host; requests keep going to the previous gateway' } : {}),
    })
    return !first
  }

  /** The address reverse-mode clients are sent back to: msnscope's own. */
  #advertised(s: GatewaySession): string {
    const listen = this.#o.listen
    let host = this.#o.advertise
    if (host === undefined) {
      host = listen.host !== '0.0.0.0' && listen.host !== '::' ? listen.host : (s.state.client !== null ? this.#localFor(s) : '127.0.0.1')
    }
    const port = this.#server !== undefined ? this.address.port : listen.port
    const h = host.includes(':') ? `[${host}]` : host
    return port === 80 ? h : `${h}:${port}`
  }

  #localFor(s: GatewaySession): string {
    const a = s.localAddress ?? '127.0.0.1'
    return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
  }

  #requestHeaders(s: GatewaySession, req: http.IncomingMessage): Array<[string, string]> {
    s.localAddress ??= req.socket.localAddress ?? null
    const out: Array<[string, string]> = []
    let host = false
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!
      const lower = name.toLowerCase()
      if (NOT_RELAYED.has(lower) || lower === 'accept-encoding') continue
      if (lower === 'host') {
        host = true
        out.push([name, s.forward ? req.rawHeaders[i + 1]! : hostHeader(s.gateway)])
        continue
      }
      out.push([name, req.rawHeaders[i + 1]!])
    }
    if (!host) out.push(['Host', hostHeader(s.gateway)])
    out.push(['Connection', 'keep-alive'])
    return out
  }

  #answerClient(s: GatewaySession, res: http.ServerResponse, up: UpstreamResponse, items: Array<[string, string]>, body: Buffer, addClose: boolean): void {
    const advertised = s.forward ? null : this.#advertised(s)
    const rewritten = items.map(([k, v]) => [k, advertised !== null && k.toLowerCase() === 'gw-ip' ? advertised : v] as [string, string])
    if (addClose) rewritten.push(['Session', 'close'])
    const flat: string[] = []
    for (const [name, value] of up.headers) {
      const lower = name.toLowerCase()
      if (NOT_RELAYED.has(lower)) continue
      if (lower === 'x-msn-messenger') flat.push(name, formatMessengerHeader(rewritten))
      else if (lower === 'x-msn-host' && advertised !== null) flat.push(name, advertised)
      else flat.push(name, value)
    }
    flat.push('Content-Length', String(body.length))
    try {
      res.writeHead(200, up.statusMessage || 'OK', flat)
      res.end(body)
    } catch {
      res.destroy()
    }
  }

  #onConnect(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {})
    const target = splitHostPort(req.url ?? '', 443)
    const client = endpoint(req.socket.remoteAddress, req.socket.remotePort)
    const msnp = target !== null && (this.#o.msnpPorts ?? [1863]).includes(target.port)
    if (target === null || (!msnp && this.#o.allowAnyHttp !== true)) {
      this.#stats.refused++
      this.hub.emit({ conn: '-', transport: 'http', client, server: null, role: '?', kind: 'http', from: 'client', method: 'CONNECT', url: req.url ?? '', status: 403, bodyLength: 0, note: 'CONNECT is relayed to MSNP ports only (see --allow-any-http)' })
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const open = this.#sessions.size + this.#opening.size + this.relays.size
    if (open >= (this.#o.maxSessions ?? 1000)) {
      this.hub.emit({ conn: '-', transport: 'http', client, server: null, role: '?', kind: 'limit', limit: 'max-sessions', detail: `refused a CONNECT: ${open} sessions open` })
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n')
      return
    }
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n')
    if (!msnp) return this.#tunnel(socket, target, head)
    this.#stats.connectRelays++
    const state = this.tracker.open({ conn: this.hub.nextConnId(), transport: 'tcp', client, server: endpoint(target.host, target.port) })
    this.hub.emit({ ...this.hub.base(state), kind: 'session-open', ...(state.parent !== undefined ? { parent: state.parent } : {}), ...(state.via !== undefined ? { via: state.via } : {}) })
    const relay = new Relay({
      state, client: socket as net.Socket, tracker: this.tracker, hub: this.hub, decider: (e, ctx) => this.#decider(e, ctx),
      upstream: { host: target.host, port: target.port, ...(this.#o.dialFrom !== undefined ? { localAddress: this.#o.dialFrom } : {}) },
      limits: this.#limits, idleTimeoutMs: this.#o.idleTimeoutMs ?? 5 * 60_000,
      onClose: (r) => { this.relays.delete(r) },
      ...(head.length > 0 ? { preface: head } : {}),
    })
    this.relays.add(relay)
  }

  /** A CONNECT to anything else, when allowed: bytes both ways, not decoded. */
  #tunnel(socket: Duplex, target: { host: string; port: number }, head: Buffer): void {
    const up = net.connect({ host: target.host, port: target.port, ...(this.#o.dialFrom !== undefined ? { localAddress: this.#o.dialFrom } : {}) })
    this.#tunnels.add(socket)
    up.on('error', () => socket.destroy())
    socket.on('close', () => { up.destroy(); this.#tunnels.delete(socket) })
    up.on('close', () => socket.destroy())
    if (head.length > 0) up.write(head)
    socket.pipe(up)
    up.pipe(socket)
  }
}

type BodyRead = { ok: true; body: Buffer } | { ok: false; status: number; got: number; reason: string }

/** The whole request body, or why not (cut short, too large, too slow). */
function readBody(req: http.IncomingMessage, max: number, timeoutMs: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let got = 0
    let done = false
    const declared = req.headers['content-length']
    const of = declared !== undefined ? ` of ${declared}` : ''
    const finish = (r: BodyRead): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(r)
    }
    const timer = setTimeout(() => finish({ ok: false, status: 408, got, reason: `request body incomplete after ${timeoutMs} ms: ${got}${of} bytes` }), timeoutMs)
    timer.unref()
    if (declared !== undefined && Number(declared) > max) {
      finish({ ok: false, status: 413, got: 0, reason: `request body of ${declared} bytes, limit ${max}` })
      return
    }
    req.on('data', (chunk: Buffer) => {
      got += chunk.length
      if (got > max) { finish({ ok: false, status: 413, got, reason: `request body larger than ${max} bytes` }); return }
      chunks.push(chunk)
    })
    req.on('end', () => finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got) }))
    const cut = (): void => finish({ ok: false, status: 400, got, reason: `request body incomplete: ${got}${of} bytes before the client went away` })
    req.on('aborted', cut)
    req.on('error', cut)
    req.on('close', () => { if (!req.complete) cut() })
  })
}

function answer(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return
  try {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) })
    res.end(text)
  } catch { res.destroy() }
}

function relayAnswer(res: http.ServerResponse, up: UpstreamResponse): void {
  if (res.headersSent || res.destroyed) return
  const flat: string[] = []
  for (const [name, value] of up.headers) if (!NOT_RELAYED.has(name.toLowerCase())) flat.push(name, value)
  flat.push('Content-Length', String(up.body.length))
  try {
    res.writeHead(up.status, up.statusMessage, flat)
    res.end(up.body)
  } catch { res.destroy() }
}

function headerValue(up: UpstreamResponse, lower: string): string | null {
  for (const [name, value] of up.headers) if (name.toLowerCase() === lower) return value
  return null
}

function hostHeader(gw: { host: string; port: number }): string {
  const h = gw.host.includes(':') ? `[${gw.host}]` : gw.host
  return gw.port === 80 ? h : `${h}:${gw.port}`
}

/** `http://host/gateway/gateway.dll?x` → `/gateway/gateway.dll?x` */
function originForm(url: string): string {
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)
  if (abs === null) return url
  const rest = url.slice(abs[0].length)
  return rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`
}

/** The path with its SessionID replaced by the latest one the gateway gave (after msnscope's own requests). */
export function withSessionId(path: string, sid: string | null): string {
  if (sid === null) return path
  return path.replace(/([?&]SessionID=)([^&#]*)/i, (_m, p: string) => `${p}${sid}`)
}

function concat(parts: Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY
  if (parts.length === 1) return parts[0]!
  return Buffer.concat(parts)
}

const EMPTY: Buffer = Buffer.alloc(0)

