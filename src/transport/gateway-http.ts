/**
 * HTTP plumbing of the gateway interceptor that knows nothing of sessions: reading a request
 * body whole (or saying why not), answering, copying headers, and rewriting request targets.
 */
import type http from 'node:http'
import { formatMessengerHeader, parseMessengerHeader, replaceGatewayIp } from '../protocol/gateway.js'
import type { UpstreamResponse } from './gateway-upstream.js'

/** Hop-by-hop headers, and those msnscope sets itself. */
export const NOT_RELAYED: ReadonlySet<string> = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization',
  'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect'])

export type BodyRead = { ok: true; body: Buffer } | { ok: false; status: number; got: number; reason: string }

interface Reading { req: http.IncomingMessage; deadline: number; finish: (r: BodyRead) => void; got: () => number }

/**
 * Reads request bodies with a limit and a deadline; one timer watches every body still
 * arriving (a timer per request costs more than the bodies themselves).
 */
export class BodyReader {
  readonly #reading = new Set<Reading>()
  #timer: NodeJS.Timeout | null = null

  constructor(readonly max: number, readonly timeoutMs: number) {}

  read(req: http.IncomingMessage): Promise<BodyRead> {
    return new Promise((resolve) => {
      const declared = req.headers['content-length']
      const of = declared !== undefined ? ` of ${declared}` : ''
      if (declared !== undefined && Number(declared) > this.max) {
        resolve({ ok: false, status: 413, got: 0, reason: `request body of ${declared} bytes, limit ${this.max}` })
        return
      }
      const chunks: Buffer[] = []
      let got = 0
      let done = false
      const r: Reading = {
        req, deadline: Date.now() + this.timeoutMs, got: () => got,
        finish: (result) => {
          if (done) return
          done = true
          this.#reading.delete(r)
          resolve(result)
        },
      }
      req.on('data', (chunk: Buffer) => {
        got += chunk.length
        if (got > this.max) r.finish({ ok: false, status: 413, got, reason: `request body larger than ${this.max} bytes` })
        else chunks.push(chunk)
      })
      req.on('end', () => r.finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got) }))
      req.on('close', () => {
        if (!req.complete) r.finish({ ok: false, status: 400, got, reason: `request body incomplete: ${got}${of} bytes before the client went away` })
      })
      if (req.complete) return
      this.#reading.add(r)
      this.#watch()
    })
  }

  #watch(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => {
      const now = Date.now()
      for (const r of this.#reading) {
        if (now < r.deadline) continue
        const declared = r.req.headers['content-length']
        r.finish({ ok: false, status: 408, got: r.got(), reason: `request body incomplete after ${this.timeoutMs} ms: ${r.got()}${declared !== undefined ? ` of ${declared}` : ''} bytes` })
      }
    }, Math.max(20, Math.min(1000, this.timeoutMs / 4)))
    this.#timer.unref()
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}

/** A short plain-text answer, unless an answer is already on its way. */
export function answer(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return
  try {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) })
    res.end(text)
  } catch { res.destroy() }
}

/** A gateway answer of msnscope's own: 200 with this X-MSN-Messenger value and body. */
export function answerOwn(res: http.ServerResponse, messenger: string, body: Buffer): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return
  try {
    res.writeHead(200, 'OK', { 'X-MSN-Messenger': messenger, 'Content-Type': 'application/x-msn-messenger', 'Content-Length': body.length })
    res.end(body)
  } catch { res.destroy() }
}

/** The gateway's answer as it came (error answers are not rewritten). */
export function relayAnswer(res: http.ServerResponse, up: UpstreamResponse): void {
  if (res.headersSent || res.destroyed) return
  const flat: string[] = []
  const h = up.headers
  for (let i = 0; i + 1 < h.length; i += 2) if (!NOT_RELAYED.has(h[i]!.toLowerCase())) flat.push(h[i]!, h[i + 1]!)
  flat.push('Content-Length', String(up.body.length))
  try {
    res.writeHead(up.status, up.statusMessage, flat)
    res.end(up.body)
  } catch { res.destroy() }
}

/** A header of a raw (name, value, name, value …) list, by its lower-case name. */
export function headerValue(raw: readonly string[], lower: string): string | null {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === lower.length && name.toLowerCase() === lower) return raw[i + 1]!
  }
  return null
}

/** Silences 'error' on streams whose failures show up elsewhere ('close', callbacks). */
export const ignore = (): void => {}

/**
 * The client's headers as they go on to the gateway: hop-by-hop ones dropped, no compression
 * (bodies must be readable), `Host:` the given one (the real gateway's, in reverse mode).
 */
export function upstreamHeaders(raw: readonly string[], host: string | null, fallbackHost: string): Record<string, string> {
  const out: Record<string, string> = {}
  let sawHost = false
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (NOT_RELAYED.has(lower) || lower === 'accept-encoding') continue
    if (lower === 'host') {
      sawHost = true
      out[name] = host ?? raw[i + 1]!
    } else out[name] = raw[i + 1]!
  }
  if (!sawHost) out.Host = host ?? fallbackHost
  out.Connection = 'keep-alive'
  return out
}

/**
 * The gateway's 200 answer with a new body: GW-IP and X-MSN-Host pointing at `advertised`
 * (reverse mode; null leaves them), `Session=close` added when msnscope ended the session.
 */
export function answerWith(res: http.ServerResponse, up: UpstreamResponse, messenger: string, body: Buffer, advertised: string | null, addClose: boolean): void {
  let value = messenger
  if (advertised !== null) value = withGatewayIp(value, advertised)
  if (addClose) value = formatMessengerHeader([...parseMessengerHeader(value).items, ['Session', 'close']])
  const flat: string[] = []
  const h = up.headers
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = h[i]!
    const lower = name.toLowerCase()
    if (NOT_RELAYED.has(lower)) continue
    if (lower === 'x-msn-messenger') flat.push(name, value)
    else if (advertised !== null && lower === 'x-msn-host') flat.push(name, advertised)
    else flat.push(name, h[i + 1]!)
  }
  flat.push('Content-Length', String(body.length))
  try {
    res.writeHead(200, up.statusMessage || 'OK', flat)
    res.end(body)
  } catch {
    res.destroy()
  }
}

/** The X-MSN-Messenger value with GW-IP replaced (the usual spelling found directly, any other by parsing). */
export function withGatewayIp(value: string, gwIp: string): string {
  const at = value.indexOf('GW-IP=')
  if (at < 0) return replaceGatewayIp(value, gwIp)
  const start = at + 6
  const end = value.indexOf(';', start)
  return value.slice(0, start) + gwIp + (end < 0 ? '' : value.slice(end))
}

/** `Host:` for a gateway: the port only when it is not 80. */
export function hostHeader(gw: { host: string; port: number }): string {
  const h = gw.host.includes(':') ? `[${gw.host}]` : gw.host
  return gw.port === 80 ? h : `${h}:${gw.port}`
}

/** `http://host/gateway/gateway.dll?x` → `/gateway/gateway.dll?x` */
export function originForm(url: string): string {
  if (url.startsWith('/')) return url
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)
  if (abs === null) return url
  const rest = url.slice(abs[0].length)
  return rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`
}

/** The path with its SessionID replaced by the latest one the gateway gave (after msnscope's own requests). */
export function withSessionId(path: string, sid: string | null): string {
  if (sid === null) return path
  const at = path.indexOf('SessionID=')
  if (at < 0) return path
  const start = at + 'SessionID='.length
  let end = path.indexOf('&', start)
  if (end < 0) end = path.length
  return path.slice(start, end) === sid ? path : path.slice(0, start) + sid + path.slice(end)
}

const EMPTY: Buffer = Buffer.alloc(0)

export function concat(parts: readonly Buffer[]): Buffer {
  if (parts.length === 0) return EMPTY
  if (parts.length === 1) return parts[0]!
  return Buffer.concat(parts)
}
