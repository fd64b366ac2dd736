/**
 * The lab's HTTP gateway (gateway.dll) and the client side of it.
 *
 * `startLabGateway` runs a gateway that behaves like the real one (http-gateway.md): per
 * gateway session it opens a TCP connection to the lab's notification or switchboard server
 * and moves bytes between HTTP bodies and that connection. Every answer carries a SessionID
 * whose part after the dot changes, and a GW-IP that differs from the address the client used
 * (the gateway listens there too, on the same port); a second request of a session while one
 * is outstanding gets 400, and so does a stale SessionID; PNG gets 400 and ends the session;
 * `Session=close` follows the server's close. Every request's peer is recorded, and requests
 * from peers `allow` refuses get 403.
 *
 * `gatewayTransport` gives lab clients a socket-like stream over that protocol, straight to a
 * gateway or through an HTTP proxy with absolute URIs: one request outstanding at a time,
 * writes queued and sent as request bodies, polls when idle, GW-IP followed.
 */
import { randomInt } from 'node:crypto'
import { EventEmitter } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { Duplex } from 'node:stream'
import { MsnpDecoder } from '../protocol/decoder.js'
import { parseGatewayTarget, parseMessengerHeader, sessionKey } from '../protocol/gateway.js'
import { MsnscopeError } from '../errors.js'
import type { LabTransport } from './channel.js'
import type { Endpoint } from './server.js'

export interface LabGatewayOptions {
  /** the gateway's main address (tests use 127.0.0.3) */
  host: string
  /** 0 or absent: an ephemeral port */
  port?: number
  /** the address handed out in GW-IP, listened on with the same port (default 127.0.0.2); null: `host` */
  gwIp?: string | null
  /** where each session's TCP connection goes: the lab server's NS and SB (or a function of Server= and IP=) */
  backend: { ns: Endpoint; sb: Endpoint } | ((server: 'NS' | 'SB', ip: string) => Endpoint)
  /** requests from peers this returns false for get 403; they are recorded either way */
  allow?: (peer: { remoteAddress: string; remotePort: number }) => boolean
  /** how long an empty poll waits for server data before an empty answer (default 100 ms) */
  pollHoldMs?: number
  /** how long a request with commands waits for the server's first answer bytes (default 50 ms) */
  answerWaitMs?: number
  /** once server bytes are there, how long to wait for more to pack into the same answer (default 2 ms) */
  coalesceMs?: number
  /** forget a session not polled for this long (default 60 s) */
  sessionTimeoutMs?: number
}

/** One request the gateway received. */
export interface LabGatewayRequest {
  remoteAddress: string
  remotePort: number
  localAddress: string
  method: string
  url: string
  status: number
  refused: boolean
}

interface Session {
  major: string
  minor: number
  server: 'NS' | 'SB'
  socket: net.Socket
  /** server bytes not yet handed out */
  pending: Buffer[]
  serverClosed: boolean
  busy: boolean
  wake: (() => void) | null
  lastSeen: number
  /** frames what the client sends, to spot PNG */
  framer: MsnpDecoder
}

export interface LabGatewayEvents {
  /** a request arrived whole and is being served */
  received: [{ url: string; remoteAddress: string }]
  /** a request was answered (or refused) */
  request: [LabGatewayRequest]
}

export class LabGateway extends EventEmitter<LabGatewayEvents> {
  readonly requests: LabGatewayRequest[] = []
  readonly #sessions = new Map<string, Session>()
  readonly #servers: http.Server[]
  readonly #o: LabGatewayOptions
  readonly #timer: NodeJS.Timeout
  readonly port: number
  readonly gwIp: string

  /** @internal use startLabGateway */
  constructor(o: LabGatewayOptions, servers: http.Server[], port: number) {
    super()
    this.#o = o
    this.#servers = servers
    this.port = port
    this.gwIp = o.gwIp === null ? o.host : o.gwIp ?? '127.0.0.2'
    for (const s of servers) s.on('request', (req, res) => this.#onRequest(req, res))
    const timeout = o.sessionTimeoutMs ?? 60_000
    this.#timer = setInterval(() => {
      const now = Date.now()
      for (const [k, s] of this.#sessions) if (!s.busy && now - s.lastSeen > timeout) { s.socket.destroy(); this.#sessions.delete(k) }
    }, Math.min(timeout, 10_000))
    this.#timer.unref()
  }

  get host(): string { return this.#o.host }
  /** where clients open sessions: `host:port` */
  get address(): Endpoint { return { host: this.#o.host, port: this.port } }
  get sessions(): number { return this.#sessions.size }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    for (const s of this.#sessions.values()) s.socket.destroy()
    this.#sessions.clear()
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections() })))
  }

  #record(req: http.IncomingMessage, status: number, refused: boolean): void {
    const r: LabGatewayRequest = {
      remoteAddress: plain(req.socket.remoteAddress), remotePort: req.socket.remotePort ?? 0, localAddress: plain(req.socket.localAddress),
      method: req.method ?? '?', url: req.url ?? '', status, refused,
    }
    this.requests.push(r)
    if (this.requests.length > 10_000) this.requests.shift()
    this.emit('request', r)
  }

  #fail(req: http.IncomingMessage, res: http.ServerResponse, status: number, refused = false): void {
    this.#record(req, status, refused)
    if (res.headersSent || res.destroyed) return
    res.writeHead(status, { 'Content-Type': 'text/html', 'Content-Length': 0 })
    res.end()
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.on('error', () => {})
    res.on('error', () => {})
    const peer = { remoteAddress: plain(req.socket.remoteAddress), remotePort: req.socket.remotePort ?? 0 }
    if (this.#o.allow !== undefined && !this.#o.allow(peer)) return this.#fail(req, res, 403, true)
    const target = parseGatewayTarget(req.url ?? '/')
    if (!target.isGateway) return this.#fail(req, res, 404)
    if (req.method !== 'POST') return this.#fail(req, res, 405)
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) { this.#fail(req, res, 413); req.destroy(); return }
      chunks.push(c)
    })
    req.on('end', () => {
      if (size > MAX_BODY) return
      this.emit('received', { url: req.url ?? '', remoteAddress: peer.remoteAddress })
      try {
        this.#serve(req, res, target, Buffer.concat(chunks))
      } catch {
        this.#fail(req, res, 500)
      }
    })
  }

  #serve(req: http.IncomingMessage, res: http.ServerResponse, target: ReturnType<typeof parseGatewayTarget>, body: Buffer): void {
    let s: Session
    if (target.action === 'open') {
      const server = target.server?.toUpperCase() === 'SB' ? 'SB' : 'NS'
      s = this.#open(server, target.ip ?? '')
    } else {
      if (target.sessionId === null) return this.#fail(req, res, 400)
      const found = this.#sessions.get(sessionKey(target.sessionId))
      // A stale SessionID (an old part after the dot) is refused like an unknown one.
      if (found === undefined || target.sessionId !== sid(found)) return this.#fail(req, res, 400)
      if (found.busy) return this.#fail(req, res, 400)
      s = found
    }
    s.busy = true
    s.lastSeen = Date.now()
    if (body.length > 0) {
      const png = s.framer.push(body).some((ev) => ev.kind === 'command' && ev.verb === 'PNG')
      if (png) {
        s.busy = false
        s.socket.destroy()
        this.#sessions.delete(s.major)
        return this.#fail(req, res, 400)
      }
      if (!s.socket.destroyed) s.socket.write(body)
    }
    let finished = false
    const gone = (): void => {
      if (finished) return
      finished = true
      clearTimeout(hold)
      s.wake = null
      s.busy = false
    }
    res.on('close', () => { if (!res.writableFinished) gone() })
    const respond = (): void => {
      if (finished) return
      finished = true
      clearTimeout(hold)
      s.wake = null
      s.busy = false
      s.lastSeen = Date.now()
      const out = Buffer.concat(s.pending.splice(0))
      s.minor += randomInt(1, 9999)
      const close = s.serverClosed && s.pending.length === 0
      if (close) this.#sessions.delete(s.major)
      this.#record(req, 200, false)
      res.writeHead(200, {
        'X-MSN-Messenger': `SessionID=${sid(s)}; GW-IP=${this.gwIp}${close ? '; Session=close' : ''}`,
        'Content-Type': 'application/x-msn-messenger',
        'Content-Length': out.length,
      })
      res.end(out)
    }
    const settle = (): void => { clearTimeout(hold); hold = setTimeout(respond, this.#o.coalesceMs ?? 2) }
    const wait = s.pending.length > 0 || s.serverClosed ? 0 : body.length > 0 ? this.#o.answerWaitMs ?? 50 : this.#o.pollHoldMs ?? 100
    let hold = setTimeout(respond, wait)
    if (wait > 0) s.wake = settle
  }

  #open(server: 'NS' | 'SB', ip: string): Session {
    const b = this.#o.backend
    const to = typeof b === 'function' ? b(server, ip) : server === 'SB' ? b.sb : b.ns
    let major: string
    do major = String(randomInt(1_000_000_000, 2_147_483_647)); while (this.#sessions.has(major))
    const socket = net.connect({ host: to.host, port: to.port })
    const s: Session = {
      major, minor: randomInt(1000, 30000), server, socket, pending: [], serverClosed: false, busy: false, wake: null,
      lastSeen: Date.now(), framer: new MsnpDecoder('client', { decode: false }),
    }
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { s.pending.push(chunk); s.wake?.() })
    socket.on('error', () => {})
    socket.on('close', () => { s.serverClosed = true; s.wake?.() })
    this.#sessions.set(major, s)
    return s
  }
}

const sid = (s: Session): string => `${s.major}.${s.minor}`
/** the largest request body the lab gateway takes */
const MAX_BODY = 1024 * 1024
const plain = (a: string | undefined): string => a === undefined ? '?' : a.startsWith('::ffff:') ? a.slice(7) : a

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as net.AddressInfo).port)
    })
  })
}

/** Start a lab gateway on `host` and on its GW-IP address, with the same port on both. */
export async function startLabGateway(o: LabGatewayOptions): Promise<LabGateway> {
  const gwIp = o.gwIp === null ? o.host : o.gwIp ?? '127.0.0.2'
  for (let attempt = 0; ; attempt++) {
    const main = http.createServer({ keepAliveTimeout: 30_000 })
    const servers = [main]
    try {
      const port = await listen(main, o.host, o.port ?? 0)
      if (gwIp !== o.host) {
        const second = http.createServer({ keepAliveTimeout: 30_000 })
        servers.push(second)
        await listen(second, gwIp, port)
      }
      for (const s of servers) s.on('error', () => {})
      return new LabGateway(o, servers, port)
    } catch (err) {
      for (const s of servers) if (s.listening) s.close()
      // The ephemeral port may be taken on the GW-IP address: try another one.
      if (attempt < 5 && (o.port ?? 0) === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue
      throw new MsnscopeError('ELISTEN', `lab gateway cannot listen on ${o.host} and ${gwIp}: ${(err as Error).message}`, { cause: err })
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The client side

export interface GatewayClientOptions {
  /** where the first request of each session goes (a lab gateway, or msnscope as the gateway host) */
  gateway: Endpoint
  /** an HTTP proxy for every request (absolute URIs): msnscope in forward-proxy mode */
  proxy?: Endpoint
  /** poll this long after an empty answer (default 50 ms; real clients wait 2 s) */
  pollIntervalMs?: number
  /** local address for the HTTP connections */
  localAddress?: string
}

/** Lab clients over the HTTP gateway: DS and NS connections open `Server=NS` sessions, SB ones `Server=SB`. */
export function gatewayTransport(o: GatewayClientOptions): LabTransport {
  return {
    keepAlive: 'polling',
    connect: async (target) => new GatewayClientSocket(o, target.role === 'SB' ? 'SB' : 'NS', target.host) as unknown as net.Socket,
  }
}

/**
 * One gateway session seen from the client: a Duplex that looks enough like a TCP socket for
 * the lab's connections (data, end, close, error, setNoDelay, setTimeout, remote address).
 */
export class GatewayClientSocket extends Duplex {
  readonly remoteAddress: string
  readonly remotePort: number
  /** the full SessionID to send next, null before the open answer */
  sessionId: string | null = null
  /** `host[:port]` requests go to (GW-IP once the gateway named one) */
  #gwHost: string
  #out: Buffer[] = []
  #inFlight: http.ClientRequest | null = null
  #pollTimer: NodeJS.Timeout | null = null
  #idleTimer: NodeJS.Timeout | null = null
  #idleMs = 0
  #ended = false
  readonly #agent: http.Agent
  readonly #o: GatewayClientOptions

  constructor(o: GatewayClientOptions, readonly server: 'NS' | 'SB', readonly ip: string) {
    super({ allowHalfOpen: false })
    this.#o = o
    this.remoteAddress = o.gateway.host
    this.remotePort = o.gateway.port
    this.#gwHost = hostWithPort(o.gateway.host, o.gateway.port)
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  }

  setNoDelay(): this { return this }
  setKeepAlive(): this { return this }

  setTimeout(ms: number, cb?: () => void): this {
    this.#idleMs = ms
    if (cb !== undefined) this.once('timeout', cb)
    this.#touch()
    return this
  }

  #touch(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#idleTimer = null
    if (this.#idleMs > 0 && !this.destroyed) {
      this.#idleTimer = setTimeout(() => this.emit('timeout'), this.#idleMs)
      this.#idleTimer.unref()
    }
  }

  override _read(): void { /* data is pushed as answers arrive */ }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#out.push(chunk)
    cb()
    this.#kick()
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#ended = true
    this.#kick()
    cb()
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer)
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#inFlight?.destroy()
    this.#inFlight = null
    this.#agent.destroy()
    cb(err)
  }

  /** Send what is queued, or poll later; never two requests at once. */
  #kick(): void {
    if (this.#inFlight !== null || this.destroyed) return
    if (this.#out.length > 0) {
      if (this.#pollTimer !== null) { clearTimeout(this.#pollTimer); this.#pollTimer = null }
      const body = Buffer.concat(this.#out.splice(0))
      return this.#send(this.sessionId === null ? `Action=open&Server=${this.server}&IP=${encodeURIComponent(this.ip)}` : `SessionID=${this.sessionId}`, body)
    }
    if (this.sessionId === null || this.#pollTimer !== null || this.#ended) return
    this.#schedulePoll(this.#o.pollIntervalMs ?? 50)
  }

  #schedulePoll(ms: number): void {
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null
      if (this.#inFlight === null && !this.destroyed && this.sessionId !== null) this.#send(`Action=poll&SessionID=${this.sessionId}`, Buffer.alloc(0))
    }, ms)
  }

  #send(query: string, body: Buffer): void {
    const path = `/gateway/gateway.dll?${query}`
    const via = this.#o.proxy
    const [host, port] = splitHost(this.#gwHost, this.#o.gateway.port)
    const req = http.request({
      host: via?.host ?? host, port: via?.port ?? port, method: 'POST', agent: this.#agent,
      path: via !== undefined ? `http://${this.#gwHost}${path}` : path,
      ...(this.#o.localAddress !== undefined ? { localAddress: this.#o.localAddress } : {}),
      headers: {
        Accept: '*/*', 'User-Agent': 'MSMSGS', Host: this.#gwHost, ...(via !== undefined ? { 'Proxy-Connection': 'Keep-Alive' } : {}),
        Connection: 'Keep-Alive', Pragma: 'no-cache', 'Content-Type': 'application/x-msn-messenger', 'Content-Length': body.length,
      },
    })
    this.#inFlight = req
    req.on('error', (err) => { if (this.#inFlight === req) this.destroy(new Error(`gateway request failed: ${err.message}`)) })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', () => {})
      res.on('end', () => {
        if (this.#inFlight !== req || this.destroyed) return
        this.#inFlight = null
        this.#answer(res, Buffer.concat(chunks))
      })
    })
    req.end(body)
  }

  #answer(res: http.IncomingMessage, body: Buffer): void {
    if (res.statusCode !== 200) return void this.destroy(new Error(`gateway answered ${res.statusCode ?? '?'}`))
    const value = res.headers['x-msn-messenger']
    const h = typeof value === 'string' ? parseMessengerHeader(value) : null
    if (h === null || h.sessionId === null) return void this.destroy(new Error('gateway answer without a SessionID'))
    this.sessionId = h.sessionId
    const xHost = res.headers['x-msn-host']
    const next = typeof xHost === 'string' && xHost !== '' ? xHost : h.gwIp
    if (next !== null && next !== '') {
      const [host, port] = splitHost(next, this.#o.gateway.port)
      this.#gwHost = hostWithPort(host, port)
    }
    if (body.length > 0) { this.#touch(); this.push(body) }
    if (h.sessionClose) {
      this.#ended = true
      this.push(null)
      return
    }
    if (this.#out.length > 0) return this.#kick()
    if (this.#ended) return
    // More may be waiting when an answer carried data; otherwise wait before polling again.
    this.#schedulePoll(body.length > 0 ? 0 : this.#o.pollIntervalMs ?? 50)
  }
}

function hostWithPort(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host
  return port === 80 ? h : `${h}:${port}`
}

/** `host[:port]`; a GW-IP without a port means the port of the gateway first contacted. */
function splitHost(text: string, defaultPort: number): [string, number] {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (v6 !== null) return [v6[1]!, v6[2] !== undefined ? Number(v6[2]) : defaultPort]
  const i = text.lastIndexOf(':')
  if (i > 0 && text.indexOf(':') === i) return [text.slice(0, i), Number(text.slice(i + 1))]
  return [text, defaultPort]
}
