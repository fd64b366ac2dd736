/**
 * The gateway's way out: every request msnscope sends to a real MSN gateway is a plain
 * node:http request on a keep-alive agent (the body is already whole, so http-proxy's piping
 * would only cost time), and its response comes back whole (status, headers with their
 * original spelling, body) so that the body can be decoded and rewritten. Everything else that
 * is relayed untouched goes through http-proxy, on the same agent.
 *
 * The outgoing request is msnscope's own, not a continuation of the client's: a gateway request
 * must outlive the client that asked for it (a client that gives up in the middle of a poll must
 * not cancel what the gateway already took from its queue), and msnscope also sends requests of
 * its own (injected commands).
 *
 * Never throws: every failure (refused, reset, timeout, garbage, a body cut short) becomes
 * `{ ok: false, error }`.
 */
import http from 'node:http'
import url from 'node:url'
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

/** One request to a gateway, until it settles. */
interface InFlight {
  deadline: number
  settled: boolean
  proxyReq: http.ClientRequest | null
  resolve: (r: UpstreamResult) => void
}

// Characters url.parse() escapes in a path, '#' (it drops the fragment) and '//' (runs of
// slashes are collapsed): a path with none of them goes out exactly as given.
const PLAIN_PATH = /^\/[^\s{}|\\^`'"<>#]*$/

/**
 * The path a gateway request goes out with: what http-proxy made of it when it carried these
 * requests (url.parse(), then slashes collapsed before the query), computed only when needed.
 */
export function outgoingPath(path: string): string {
  if (PLAIN_PATH.test(path)) {
    const q = path.indexOf('?')
    if (!(q < 0 ? path : path.slice(0, q)).includes('//')) return path
  }
  const parsed = url.parse(path).path ?? ''
  const segs = parsed.split('?')
  const first = (segs.shift() ?? '').replace(/\/+/g, '/').replace('http:/', 'http://').replace('https:/', 'https://')
  return [first, ...segs].join('?')
}

export class GatewayUpstream {
  readonly agent: http.Agent
  /** relays everything else (plain forward proxying, CORS preflights) */
  readonly #relay: httpProxy
  readonly #o: GatewayUpstreamOptions
  /** requests waiting for an answer, checked against their deadline by one timer */
  readonly #inFlight = new Set<InFlight>()
  #timer: NodeJS.Timeout | null = null

  constructor(o: GatewayUpstreamOptions) {
    this.#o = o
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 256 })
    this.#relay = httpProxy.createProxyServer({ agent: this.agent, xfwd: false, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) })
    this.#relay.on('error', () => { /* reported through each request's callback */ })
  }

  #finish(out: InFlight, result: UpstreamResult): void {
    if (out.settled) return
    out.settled = true
    this.#inFlight.delete(out)
    out.resolve(result)
  }

  /** Send one gateway request and collect the whole answer. */
  send(r: UpstreamRequest): Promise<UpstreamResult> {
    return new Promise((resolve) => {
      r.headers['Content-Length'] = String(r.body.length)
      const out: InFlight = { deadline: Date.now() + this.#o.timeoutMs, settled: false, proxyReq: null, resolve }
      this.#inFlight.add(out)
      this.#watch()
      try {
        const options: http.RequestOptions = { host: r.target.host, port: r.target.port, method: 'POST', path: outgoingPath(r.path), headers: r.headers, agent: this.agent }
        if (this.#o.localAddress !== undefined) options.localAddress = this.#o.localAddress
        const proxyReq = http.request(options)
        out.proxyReq = proxyReq
        proxyReq.on('error', (err) => this.#finish(out, { ok: false, error: describeError(err as NodeJS.ErrnoException) }))
        proxyReq.on('response', (res) => this.#collect(res, out))
        proxyReq.end(r.body)
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

  #collect(res: http.IncomingMessage, out: InFlight): void {
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
    this.#relay.close()
    this.agent.destroy()
  }
}

function describeError(e: NodeJS.ErrnoException): string {
  if (e.code === 'HPE_INVALID_CONSTANT' || e.code === 'HPE_INVALID_STATUS' || e.code?.startsWith('HPE_') === true) return `not an HTTP answer (${e.code}: ${e.message})`
  if (e.code === 'ECONNRESET' && e.message === 'socket hang up') return 'connection closed before an answer'
  return e.code !== undefined ? `${e.code}${e.message !== '' && !e.message.includes(e.code) ? `: ${e.message}` : ''}` : e.message
}
