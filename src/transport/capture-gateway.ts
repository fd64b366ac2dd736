/**
 * MSN HTTP gateway sessions in a capture. HTTP requests and responses of the TCP streams that
 * carry gateway traffic are paired in order (keep-alive and pipelining); each gateway session
 * (Action=open, then its SessionID) becomes one logical connection with transport `http`, whose
 * request bodies feed the client decoder and response bodies the server decoder. A session may
 * move between TCP connections (state is in the SessionID) and ends at `Session=close`, when
 * idle, or with the capture. Other HTTP traffic in the same capture is skipped silently.
 */
import { HttpParser, headerValue, type HttpHead, type HttpParserEvent } from '../pcap/http.js'
import { GATEWAY_CONTENT_TYPE, gatewayTargetAddress, MESSENGER_HEADER, parseGatewayTarget, parseMessengerHeader, sessionKey, type GatewayRequest } from '../protocol/gateway.js'
import type { Side } from '../protocol/events.js'
import type { CaptureConn, CaptureConns } from './capture-conns.js'
import type { EventBase, HttpEvent } from '../events.js'

type HttpEventFields = Omit<HttpEvent, keyof EventBase>

/** One gateway session. */
interface GatewaySession {
  conn: CaptureConn
  key: string | null
  sessionId: string | null
}

/** A request waiting for its response. */
interface Exchange {
  session: GatewaySession | null
  request: GatewayRequest | null
}

/** A message being read: its head and, for gateway messages, its body pieces (numbers are gaps). */
interface Message {
  head: HttpHead
  gateway: boolean
  parts: Array<Buffer | number>
  exchange: Exchange | null
}

/** The HTTP side of one TCP stream. */
export interface HttpStream {
  client: string
  server: string
  parsers: { client: HttpParser; server: HttpParser }
  current: { client: Message | null; server: Message | null }
  waiting: Exchange[]
  /** a gateway message was seen on this stream */
  gateway: boolean
  messages: number
  /** decided it carries no gateway traffic */
  ignore: boolean
}

const MAX_WAITING = 256

export class GatewaySessions {
  readonly #byKey = new Map<string, GatewaySession>()
  /** every open session, including those still waiting for their SessionID */
  readonly #open = new Set<GatewaySession>()

  constructor(readonly conns: CaptureConns, readonly idleUs: number) {}

  get openSessions(): number { return this.#open.size }

  stream(client: string, server: string): HttpStream {
    return {
      client, server,
      parsers: { client: new HttpParser('request'), server: new HttpParser('response') },
      current: { client: null, server: null }, waiting: [], gateway: false, messages: 0, ignore: false,
    }
  }

  /** In-order bytes of one side of an HTTP stream. */
  data(s: HttpStream, side: Side, bytes: Buffer, tsUs: number): void {
    if (s.ignore) return
    this.#events(s, side, s.parsers[side].push(bytes), tsUs)
  }

  gap(s: HttpStream, side: Side, n: number, tsUs: number): void {
    if (s.ignore) return
    this.#events(s, side, s.parsers[side].gap(n), tsUs)
  }

  /** The TCP stream ended; its gateway sessions go on (they may continue on another stream). */
  end(s: HttpStream, tsUs: number): void {
    if (s.ignore) return
    this.#events(s, 'client', s.parsers.client.end(), tsUs)
    this.#events(s, 'server', s.parsers.server.end(), tsUs)
  }

  /** Close sessions idle since before `nowUs - idleUs`. */
  sweep(nowUs: number): void {
    for (const g of this.#open) if (nowUs - g.conn.lastUs > this.idleUs) this.#close(g, 'idle', nowUs)
  }

  finish(tsUs: number): void {
    for (const g of this.#open) this.#close(g, 'end of capture', tsUs)
  }

  #events(s: HttpStream, side: Side, events: HttpParserEvent[], tsUs: number): void {
    for (const e of events) {
      if (s.ignore) return
      const msg = s.current[side]
      switch (e.type) {
        case 'head':
          s.messages++
          s.current[side] = side === 'client' ? this.#requestHead(s, e.head, tsUs) : this.#responseHead(s, e.head)
          break
        case 'body':
          if (msg !== null && msg.gateway) msg.parts.push(e.data)
          break
        case 'gap':
          if (msg !== null && msg.gateway) msg.parts.push(e.bytes)
          break
        case 'end':
          if (msg !== null) {
            if (msg.gateway) this.#message(s, side, msg, e.complete, tsUs)
            s.current[side] = null
          }
          break
        case 'skip':
          break
      }
    }
  }

  #requestHead(s: HttpStream, head: HttpHead, tsUs: number): Message {
    s.parsers.server.expectResponseTo(head.method)
    const req = parseGatewayTarget(head.target)
    const gateway = req.isGateway || isGatewayType(head)
    if (!gateway && !s.gateway) {
      // the stream's first request is not for the gateway: plain web traffic
      s.ignore = true
      return { head, gateway: false, parts: [], exchange: null }
    }
    if (gateway) s.gateway = true
    const exchange: Exchange = { session: gateway ? this.#sessionFor(s, req, tsUs) : null, request: gateway ? req : null }
    s.waiting.push(exchange)
    if (s.waiting.length > MAX_WAITING) s.waiting.shift()
    return { head, gateway, parts: [], exchange }
  }

  #responseHead(s: HttpStream, head: HttpHead): Message {
    const interim = head.status >= 100 && head.status < 200
    const exchange = interim ? null : s.waiting.shift() ?? null
    const gateway = exchange?.session != null || headerValue(head, MESSENGER_HEADER) !== undefined || isGatewayType(head)
    if (gateway) s.gateway = true
    return { head, gateway: gateway && !interim, parts: [], exchange }
  }

  /** The session a request belongs to: a new one for Action=open, else by SessionID. */
  #sessionFor(s: HttpStream, req: GatewayRequest, tsUs: number): GatewaySession | null {
    if (req.action === 'open') {
      const referralTarget = req.ip === null ? undefined : gatewayTargetAddress(req.ip)
      return this.#new(s, false, tsUs, referralTarget)
    }
    if (req.sessionId === null) return null
    return this.#byKey.get(sessionKey(req.sessionId)) ?? this.#register(this.#new(s, true, tsUs), req.sessionId)
  }

  #new(s: HttpStream, midStream: boolean, tsUs: number, referralTarget?: string): GatewaySession {
    const info = { transport: 'http' as const, client: s.client, server: s.server, midStream, openUs: tsUs }
    const conn = this.conns.open(referralTarget === undefined ? info : { ...info, referralTarget })
    const g: GatewaySession = { conn, key: null, sessionId: null }
    this.#open.add(g)
    return g
  }

  #register(g: GatewaySession, sessionId: string): GatewaySession {
    const key = sessionKey(sessionId)
    g.sessionId = sessionId
    if (g.key !== key) {
      if (g.key !== null) this.#byKey.delete(g.key)
      g.key = key
      this.#byKey.set(key, g)
    }
    return g
  }

  /** A whole gateway request or response. */
  #message(s: HttpStream, side: Side, msg: Message, complete: boolean, tsUs: number): void {
    const head = msg.head
    let bodyLength = 0
    for (const p of msg.parts) bodyLength += typeof p === 'number' ? p : p.length
    const note = complete ? undefined : 'body incomplete in the capture'
    if (side === 'client') {
      const g = msg.exchange?.session ?? null
      const req = msg.exchange?.request ?? null
      if (g === null || req === null) return
      const http: HttpEventFields = { kind: 'http', from: 'client', method: head.method, url: head.target, bodyLength }
      if (req.action !== null) http.action = req.action
      if (req.sessionId !== null) http.sessionId = req.sessionId
      if (note !== undefined) http.note = note
      this.#body(g, 'client', msg.parts, tsUs, http)
      return
    }
    const header = headerValue(head, MESSENGER_HEADER)
    const xm = header === undefined ? null : parseMessengerHeader(header)
    let g = msg.exchange?.session ?? null
    if (g === null && xm !== null && xm.sessionId !== null) g = this.#byKey.get(sessionKey(xm.sessionId)) ?? this.#new(s, true, tsUs)
    if (g === null || g.conn.closed) return
    if (xm !== null && xm.sessionId !== null) this.#register(g, xm.sessionId)
    const failed = head.status !== 200
    const http: HttpEventFields = { kind: 'http', from: 'server', status: head.status, bodyLength }
    const action = msg.exchange?.request?.action
    if (action != null) http.action = action
    if (xm !== null) {
      if (xm.sessionId !== null) http.sessionId = xm.sessionId
      if (xm.gwIp !== null) http.gwIp = xm.gwIp
      if (xm.sessionClose) http.sessionClose = true
    }
    if (note !== undefined) http.note = note
    else if (failed) http.note = `gateway answered ${head.status} ${head.reason}`.trim()
    this.#body(g, 'server', msg.parts, tsUs, http)
    if (xm !== null && xm.sessionClose) this.#close(g, 'Session=close', tsUs)
    else if (failed && g.key === null) this.#close(g, `HTTP ${head.status}`, tsUs)
  }

  /** The message's `http` event, then the commands of its body (read first, so the session knows what it is). */
  #body(g: GatewaySession, side: Side, parts: Array<Buffer | number>, tsUs: number, http: HttpEventFields): void {
    let sent = false
    const announce = (): void => {
      if (sent) return
      sent = true
      this.conns.emit(g.conn, http, tsUs)
    }
    for (const p of parts) {
      if (typeof p === 'number') { announce(); this.conns.gap(g.conn, side, p, 'not in the capture', tsUs) }
      else this.conns.feed(g.conn, side, p, tsUs, sent ? undefined : announce)
    }
    announce()
    g.conn.lastUs = tsUs
  }

  #close(g: GatewaySession, reason: string, tsUs: number): void {
    this.#open.delete(g)
    if (g.key !== null && this.#byKey.get(g.key) === g) this.#byKey.delete(g.key)
    this.conns.close(g.conn, reason, tsUs)
  }
}

function isGatewayType(head: HttpHead): boolean {
  const ct = headerValue(head, 'content-type')
  return ct !== undefined && ct.toLowerCase().startsWith(GATEWAY_CONTENT_TYPE)
}
