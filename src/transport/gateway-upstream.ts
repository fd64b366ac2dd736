/**
 * The gateway's way out: every request msnscope sends to a real MSN gateway goes through
 * http-proxy with a keep-alive agent, and its response comes back whole (status, headers with
 * their original spelling, body) so that the body can be decoded and rewritten.
 *
 * The outgoing request is described by a small stand-in for the client's IncomingMessage
 * rather than the client's own: a gateway request must outlive the client that asked for it
 * (a client that gives up in the middle of a poll must not cancel what the gateway already
 * took from its queue), and msnscope also sends requests of its own (injected commands).
 *
 * Never throws: every failure (refused, reset, timeout, garbage, a body cut short) becomes
 * `{ ok: false, error }`.
 */
import http from 'node:http'
import httpProxy from 'http-proxy'

export interface UpstreamRequest {
  target: { host: string; port: number }
  /** origin-form path and query (`/gateway/gateway.dll?SessionID=…`) */
  path: string
  /** headers as they should go out (names spelled as the client did); Content-Length is set here */
  headers: Record<string, string>
  body: Buffer
}

export interface UpstreamResponse {
  status: number
  statusMessage: string
  /** names and values, alternating, in the order and spelling the gateway used (IncomingMessage.rawHeaders) */
  headers: string[]
  body: Buffer
}

export type UpstreamResult = { ok: true; res: UpstreamResponse } | { ok: false; error: string }

export interface GatewayUpstreamOptions {
  /** local address to dial from */
  localAddress?: string
  /** give up on a gateway that has not answered completely after this long */
  timeoutMs: number
  /** largest response body accepted */
  maxBody: number
  maxSockets?: number
}

const NEVER_DESTROYED = Object.freeze({ destroyed: false })

/**
 * Stands in for the client's request inside http-proxy (see the file comment). http-proxy pipes
 * the request into its outgoing one; this one hands over its whole body at once.
 */
class OutgoingRequest {
  readonly method = 'POST'
  readonly httpVersion = '1.1'
  readonly socket = NEVER_DESTROYED
  proxyReq: http.ClientRequest | null = null
  deadline = 0
  settled = false
  constructor(readonly url: string, readonly headers: Record<string, string>, readonly body: Buffer, readonly resolve: (r: UpstreamResult) => void) {}
  /** http-proxy listens for the client request aborting or failing: this one never does */
  on(): this { return this }
  pipe<T extends NodeJS.WritableStream>(dest: T): T { dest.end(this.body); return dest }
}

const NOT_SENT = { headersSent: false, finished: false } as unknown as http.ServerResponse
/** gateway machines a proxy instance is kept for */
const MAX_TARGETS = 64

export class GatewayUpstream {
  readonly agent: http.Agent
  /** one http-proxy per gateway machine, so that a request needs no options of its own */
  readonly #gateways = new Map<string, httpProxy>()
  /** relays everything else (plain forward proxying, CORS preflights) */
  readonly #relay: httpProxy
  readonly #o: GatewayUpstreamOptions
  /** requests waiting for an answer, checked against their deadline by one timer */
  readonly #inFlight = new Set<OutgoingRequest>()
  #timer: NodeJS.Timeout | null = null

  constructor(o: GatewayUpstreamOptions) {
    this.#o = o
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 256 })
    this.#relay = httpProxy.createProxyServer({ agent: this.agent, xfwd: false, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) })
    this.#relay.on('error', () => { /* reported through each request's callback */ })
  }

  #gatewayFor(target: { host: string; port: number }): httpProxy {
    const key = `${target.host} ${target.port}`
    let proxy = this.#gateways.get(key)
    if (proxy !== undefined) return proxy
    if (this.#gateways.size >= MAX_TARGETS) {
      const [oldest, p] = this.#gateways.entries().next().value as [string, httpProxy]
      this.#gateways.delete(oldest)
      p.close()
    }
    proxy = httpProxy.createProxyServer({
      target: { host: target.host, port: target.port, protocol: 'http:' }, agent: this.agent, selfHandleResponse: true, xfwd: false,
      ...(this.#o.localAddress !== undefined ? { localAddress: this.#o.localAddress } : {}),
    })
    proxy.on('proxyRes', (proxyRes, req) => { if (req instanceof OutgoingRequest) this.#collect(proxyRes, req) })
    proxy.on('proxyReq', (proxyReq, req) => { if (req instanceof OutgoingRequest) req.proxyReq = proxyReq })
    proxy.on('error', (err, req) => { if (req instanceof OutgoingRequest) this.#finish(req, { ok: false, error: describeError(err as NodeJS.ErrnoException) }) })
    this.#gateways.set(key, proxy)
    return proxy
  }

  #finish(out: OutgoingRequest, result: UpstreamResult): void {
    if (out.settled) return
    out.settled = true
    this.#inFlight.delete(out)
    out.resolve(result)
  }

  /** Send one gateway request and collect the whole answer. */
  send(r: UpstreamRequest): Promise<UpstreamResult> {
    return new Promise((resolve) => {
      r.headers['Content-Length'] = String(r.body.length)
      const out = new OutgoingRequest(r.path, r.headers, r.body, resolve)
      out.deadline = Date.now() + this.#o.timeoutMs
      this.#inFlight.add(out)
      this.#watch()
      try {
        this.#gatewayFor(r.target).web(out as unknown as http.IncomingMessage, NOT_SENT)
      } catch (err) {
        this.#finish(out, { ok: false, error: `cannot send: ${String(err)}` })
      }
    })
  }

  /** One timer, started with the first request, for every outstanding request: cheaper than a timer each. */
  #watch(): void {
    if (this.#timer !== null) return
    const every = Math.max(50, Math.min(1000, this.#o.timeoutMs / 4))
    this.#timer = setInterval(() => {
      const now = Date.now()
      for (const out of this.#inFlight) {
        if (now < out.deadline) continue
        this.#finish(out, { ok: false, error: `no complete answer within ${this.#o.timeoutMs} ms` })
        out.proxyReq?.destroy()
      }
    }, every)
    this.#timer.unref()
  }

  #collect(res: http.IncomingMessage, out: OutgoingRequest): void {
    const finish = (r: UpstreamResult): void => this.#finish(out, r)
    const chunks: Buffer[] = []
    let size = 0
    const declared = res.headers['content-length']
    res.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > this.#o.maxBody) {
        finish({ ok: false, error: `answer body larger than ${this.#o.maxBody} bytes` })
        res.destroy()
        return
      }
      chunks.push(chunk)
    })
    res.on('end', () => {
      if (!res.complete) return cut()
      finish({ ok: true, res: { status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.rawHeaders, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) } })
    })
    const cut = (): void => finish({ ok: false, error: `answer cut short: ${size}${declared !== undefined ? ` of ${declared}` : ''} body bytes` })
    res.on('error', cut)
  }

  /**
   * Relay a request untouched (plain forward proxying, CORS preflights, transparent pass-through);
   * answers 502 on failure. `absolute`: the target is an HTTP proxy, so the path stays an absolute URI.
   */
  relay(req: http.IncomingMessage, res: http.ServerResponse, target: { host: string; port: number }, path: string, onError: (error: string) => void, absolute = false): void {
    req.url = path
    this.#relay.web(req, res, { target: { host: target.host, port: target.port, protocol: 'http:' }, changeOrigin: false, ...(absolute ? { toProxy: true } : {}) }, (err) => {
      onError(describeError(err as NodeJS.ErrnoException))
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(502, { 'Content-Type': 'text/plain' })
        res.end('msnscope: the server could not be reached\n')
      } else res.destroy()
    })
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    for (const p of this.#gateways.values()) p.close()
    this.#gateways.clear()
    this.#relay.close()
    this.agent.destroy()
  }
}

function describeError(e: NodeJS.ErrnoException): string {
  if (e.code === 'HPE_INVALID_CONSTANT' || e.code === 'HPE_INVALID_STATUS' || e.code?.startsWith('HPE_') === true) return `not an HTTP answer (${e.code}: ${e.message})`
  if (e.code === 'ECONNRESET' && e.message === 'socket hang up') return 'connection closed before an answer'
  return e.code !== undefined ? `${e.code}${e.message !== '' && !e.message.includes(e.code) ? `: ${e.message}` : ''}` : e.message
}
