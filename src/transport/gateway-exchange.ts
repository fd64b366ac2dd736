/**
 * One request of an HTTP gateway session, start to finish: the commands of its body decided,
 * what is left sent to the real gateway, the commands of the answer decided, and the client
 * answered; and the requests msnscope sends itself to carry injected commands. The listener,
 * the routing of requests and the sessions by SessionID are http-gateway.ts's.
 */
import type http from 'node:http'
import { parseMessengerHeader, type GatewayRequest } from '../protocol/gateway.js'
import {
  answer, answerOwn, answerWith, concat, headerValue, hostHeader, relayAnswer, upstreamHeaders, withSessionId,
} from './gateway-http.js'
import type { BodyResult, GatewaySession, RequestInfo } from './gateway-session.js'
import type { Destination } from './gateway-transparent.js'
import type { GatewayUpstream } from './gateway-upstream.js'
import type { GatewayStats } from './http-gateway.js'
import { splitHostPort, type EventHub } from './hub.js'

export interface Exchange {
  /** absent for a request of msnscope's own */
  req?: http.IncomingMessage
  res?: http.ServerResponse
  target?: GatewayRequest
  /** transparent mode: where the client itself sent the request (null: to msnscope) */
  dest?: Destination | null
  /** origin-form path and query to send */
  path: string
  body: Buffer
  info: RequestInfo
}

/** What the exchanges need of the gateway that owns the sessions. */
export interface ExchangeHost {
  readonly hub: EventHub
  readonly up: GatewayUpstream
  /** the counters of `stats` events, updated in place */
  readonly stats: GatewayStats
  /** the real gateway's port in reverse mode (a GW-IP without a port means it) */
  readonly upstreamPort: number
  /** transparent mode: the ports the firewall redirects to msnscope */
  readonly redirectedPorts: readonly number[]
  closeSession(s: GatewaySession, reason: string): void
  /** the gateway named the session's SessionID: it is known by it from now on */
  learnSession(s: GatewaySession, sid: string): void
  /** the address reverse-mode clients are sent back to: msnscope's own */
  advertised(s: GatewaySession): string
}

export class GatewayExchanges {
  readonly #host: ExchangeHost
  /** opening requests answered without the gateway (#answerUnopened) */
  #unopened = 0

  constructor(host: ExchangeHost) {
    this.#host = host
  }

  /** One request of a session, start to finish: decide, send, decide the answer, answer. */
  async exchange(s: GatewaySession, x: Exchange): Promise<void> {
    const res = x.res
    if (s.closed) { if (res !== undefined) answer(res, 400, 'msnscope: session closed\n'); return }
    const own = x.req === undefined
    const isPoll = x.body.length === 0 && !own
    s.lastActivity = Date.now()
    s.counters.requests++
    if (isPoll) { s.counters.polls++; this.#host.stats.polls++ }
    this.#host.stats.bytesUp += x.body.length
    // A poll is reported only when its answer is not empty.
    if (!isPoll) s.requestEvent(x.info)
    const decided = own ? { out: [x.body], back: [], close: null } : s.process('client', x.body)
    const cr: BodyResult = decided instanceof Promise ? await decided : decided
    if (s.closed) { if (res !== undefined) answer(res, 400, 'msnscope: session closed\n'); return }
    if (cr.httpStatus !== undefined) {
      // a rule rejected a command of this request with an HTTP status: the request goes no further
      const status = cr.httpStatus
      s.note('server', `answered ${status} by msnscope: a rule rejected the request`, status)
      if (res !== undefined) answer(res, status, `msnscope: refused by rule (${status})\n`)
      this.#host.closeSession(s, `rejected by rule with HTTP ${status}`)
      return
    }

    // An opening request whose every command the rules held back has nothing for the gateway:
    // it is not asked at all, so a blocked sign-in never reaches the real service.
    if (!own && !isPoll && s.upstreamSid === null && cr.out.every((b) => b.length === 0)) {
      this.#answerUnopened(s, res, cr)
      return
    }

    // Transparent mode: the request goes where the client sent it, its Host: untouched, unless it
    // came to msnscope's own address (a GW-IP msnscope handed out): then to the real one.
    if (s.via === 'transparent' && x.dest != null) s.gateway = x.dest
    const keepHost = s.via === 'forward' || (s.via === 'transparent' && x.dest != null)
    const headers = x.req !== undefined
      ? upstreamHeaders(x.req.rawHeaders, keepHost ? null : hostHeader(s.gateway), hostHeader(s.gateway))
      : { Host: hostHeader(s.gateway), 'Content-Type': 'application/x-msn-messenger' }
    const path = own ? `/gateway/gateway.dll?SessionID=${s.upstreamSid ?? ''}` : withSessionId(x.path, s.upstreamSid)
    // Forward mode: the client names the gateway machine itself (it follows GW-IP on its own).
    if (s.via === 'forward' && x.target?.host != null) s.gateway = splitHostPort(x.target.host, 80) ?? s.gateway
    const target = s.gateway
    let away = false
    const onClose = (): void => {
      if (res === undefined || res.writableFinished || away) return
      away = true
      s.note('client', 'client went away with its request outstanding; the answer will be kept for its next request')
    }
    res?.on('close', onClose)
    if (res?.destroyed === true) onClose()
    const r = await this.#host.up.send({ target, path, headers, body: concat(cr.out) })
    res?.off('close', onClose)
    if (s.closed) { if (res !== undefined) answer(res, 503, 'msnscope: session closed\n'); return }
    s.lastActivity = Date.now()

    if (!r.ok) {
      this.#host.stats.upstreamErrors++
      if (isPoll) s.requestEvent(x.info)
      s.note('server', `gateway ${target.host}:${target.port}: ${r.error}`, 502)
      if (res !== undefined) answer(res, 502, 'msnscope: the gateway did not answer properly\n')
      this.#host.closeSession(s, `gateway error: ${r.error}`)
      return
    }
    const up = r.res
    this.#host.stats.bytesDown += up.body.length
    const value = headerValue(up.headers, 'x-msn-messenger')
    const mh = value !== null ? parseMessengerHeader(value) : null
    if (up.status !== 200 || mh === null || mh.sessionId === null) {
      const why = up.status !== 200 ? `gateway answered ${up.status}` : 'gateway answer without a SessionID'
      if (isPoll) s.requestEvent(x.info)
      s.note('server', `${why}; session ended`, up.status, up.body.length)
      if (res !== undefined) relayAnswer(res, up)
      this.#host.closeSession(s, why)
      return
    }
    this.#host.learnSession(s, mh.sessionId)
    const gw = this.#learnGateway(s, headerValue(up.headers, 'x-msn-host') ?? mh.gwIp)
    const gwChanged = gw?.moved === true
    const answered = up.body.length > 0 ? s.process('server', up.body) : NOTHING
    const sr = answered instanceof Promise ? await answered : answered
    if (s.closed) { if (res !== undefined) answer(res, 503, 'msnscope: session closed\n'); return }
    for (const b of sr.back) s.toServer.push(b)
    const closing = mh.sessionClose ? 'gateway closed the session' : cr.close ?? sr.close
    let clientBody: Buffer
    if (own) {
      clientBody = concat(sr.out)
      if (clientBody.length > 0) s.toClient.push(clientBody)
    } else {
      const parts = s.toClient.length > 0 ? s.toClient.splice(0) : []
      for (const b of cr.back) parts.push(b)
      for (const b of sr.out) parts.push(b)
      clientBody = concat(parts)
    }
    if (isPoll && clientBody.length === 0 && closing === null && !gwChanged) { s.counters.emptyPolls++; this.#host.stats.emptyPolls++ } else {
      if (isPoll) s.requestEvent(x.info)
      const ev = s.httpEvent('server', up.body.length)
      ev.status = 200
      ev.sessionId = mh.sessionId
      if (mh.gwIp !== null) ev.gwIp = mh.gwIp
      if (closing !== null) ev.sessionClose = true
      if (own) ev.note = 'answer to msnscope\'s own request; kept for the client\'s next answer'
      if (s.via === 'transparent' && gw?.note != null) ev.note = ev.note === undefined ? gw.note : `${ev.note}; ${gw.note}`
      this.#host.hub.emit(ev)
    }
    if (res !== undefined) {
      if (away || res.destroyed) {
        if (closing === null && clientBody.length > 0) s.toClient.unshift(clientBody)
        s.note('client', closing !== null ? `client gave up before the answer; ${clientBody.length} bytes lost with the session` : `client gave up before the answer; ${clientBody.length} bytes kept for its next request`)
      } else {
        answerWith(res, up, value ?? '', clientBody, s.handsOutSelf ? this.#host.advertised(s) : null, closing !== null && !mh.sessionClose)
        s.clientSid = mh.sessionId
      }
    }
    if (closing !== null) { this.#host.closeSession(s, closing); return }
    if (s.toServer.length > 0) this.flushToServer(s)
  }

  /**
   * Answer an opening request msnscope sent nothing of: the rules' answers (a blocked VER gets
   * `VER t 0`) in a gateway answer of msnscope's own that also ends the session (Session=close).
   */
  #answerUnopened(s: GatewaySession, res: http.ServerResponse | undefined, cr: BodyResult): void {
    const body = concat([...s.toClient.splice(0), ...cr.back])
    const sid = `${UNOPENED_SID}.${++this.#unopened}`
    const ev = s.httpEvent('server', body.length)
    ev.status = 200
    ev.sessionId = sid
    ev.sessionClose = true
    ev.note = 'answered by msnscope: rules held back every command of the opening request, so the gateway was not asked'
    this.#host.hub.emit(ev)
    if (res !== undefined) answerOwn(res, `SessionID=${sid}; GW-IP=${this.#host.advertised(s)}; Session=close`, body)
    this.#host.closeSession(s, 'rules held back the opening request; the gateway was not asked')
  }

  /** A request of msnscope's own carries injected bytes once nothing is outstanding for the session. */
  flushToServer(s: GatewaySession): void {
    if (s.closed || s.toServer.length === 0) return
    // Queued behind whatever the session has outstanding: the gateway answers 400 to overlapping requests.
    void s.run(async () => {
      // before the open request is answered there is no SessionID yet; its exchange flushes afterwards
      if (s.closed || s.upstreamSid === null) return
      const body = concat(s.toServer.splice(0))
      if (body.length === 0) return
      const url = `/gateway/gateway.dll?SessionID=${s.upstreamSid}`
      await this.exchange(s, { path: url, body, info: { url, action: 'send', sessionId: s.upstreamSid, bodyLength: body.length, note: 'sent by msnscope' } })
    })
  }
  /**
   * Remember where the session really lives and decide what the client is told: null when
   * nothing is new, else whether it moved after the first answer and the redirect event's note.
   */
  #learnGateway(s: GatewaySession, real: string | null): { moved: boolean; note: string | undefined } | null {
    if (real === null || real === s.realGwIp) return null
    const first = s.realGwIp === null
    s.realGwIp = real
    // a GW-IP without a port means the port the session was opened on (clients: 80)
    const hp = splitHostPort(real, s.via === 'reverse' ? this.#host.upstreamPort : s.opened.port)
    // Transparent: the client's requests to the GW-IP come back here by themselves when the
    // firewall redirects its port; otherwise msnscope hands out its own address, as in reverse mode.
    if (s.via === 'transparent' && hp !== null) s.handsOutSelf = !this.#host.redirectedPorts.includes(hp.port)
    if (s.handsOutSelf && hp !== null) s.gateway = hp
    const ev = { ...this.#host.hub.base(s.state), kind: 'redirect' as const, verb: 'GW-IP', real, handedOut: s.handsOutSelf ? this.#host.advertised(s) : null }
    let note: string | undefined
    if (s.via === 'forward') note = 'client uses msnscope as its HTTP proxy; left alone'
    else if (hp === null) note = s.handsOutSelf ? 'not a host; requests keep going to the previous gateway' : 'not a host; left alone'
    else if (!s.handsOutSelf) note = `left alone: the firewall redirects port ${hp.port} to msnscope`
    if (note !== undefined) Object.assign(ev, { note })
    this.#host.hub.emit(ev)
    return { moved: !first, note }
  }
}

/** The SessionID msnscope hands out when it answers an opening request itself (then `.N`). */
const UNOPENED_SID = 'msnscope'

const NOTHING: BodyResult = Object.freeze({ out: [], back: [], close: null }) as unknown as BodyResult
