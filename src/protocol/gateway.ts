/**
 * The MSN HTTP gateway (gateway.dll) pieces that are not HTTP itself: the request query
 * (Action, Server, IP, SessionID) and the X-MSN-Messenger response header (SessionID, GW-IP,
 * Session=close). Pure string handling, shared by capture import and the live gateway.
 * See the reference's http-gateway.md.
 */

// C: POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com HTTP/1.1
// S: X-MSN-Messenger: SessionID=2087655601.11273; GW-IP=198.51.100.20
// C: POST /gateway/gateway.dll?Action=poll&SessionID=2087655601.11273 HTTP/1.1
// S: X-MSN-Messenger: Session=close; SessionID=2087655601.11273

export const GATEWAY_PATH = '/gateway/gateway.dll'
export const GATEWAY_CONTENT_TYPE = 'application/x-msn-messenger'
export const MESSENGER_HEADER = 'X-MSN-Messenger'

export interface MessengerHeader {
  sessionId: string | null
  gwIp: string | null
  /** `Session=close`: the gateway ended the session */
  sessionClose: boolean
  /** every `key=value` item in order, unknown keys (MoreData, Service-Channel …) included */
  items: Array<[string, string]>
}

/** Parse `SessionID=123.456; GW-IP=198.51.100.20` (items in any order, unknown keys kept). */
export function parseMessengerHeader(value: string): MessengerHeader {
  const h: MessengerHeader = { sessionId: null, gwIp: null, sessionClose: false, items: [] }
  for (const part of value.split(';')) {
    const item = part.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    const key = eq < 0 ? item : item.slice(0, eq).trim()
    const v = eq < 0 ? '' : item.slice(eq + 1).trim()
    h.items.push([key, v])
    // the first of each wins, as a lookup by name would find it
    switch (key.toLowerCase()) {
      case 'sessionid': h.sessionId ??= v; break
      case 'gw-ip': h.gwIp ??= v; break
      case 'session': if (v.toLowerCase() === 'close') h.sessionClose = true; break
    }
  }
  return h
}

/** Write items back as a header value (`a=1; b=2`). */
export function formatMessengerHeader(items: ReadonlyArray<readonly [string, string]>): string {
  return items.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('; ')
}

/** The same header value with GW-IP replaced (what a transparent proxy hands the client). */
export function replaceGatewayIp(value: string, gwIp: string): string {
  const h = parseMessengerHeader(value)
  if (h.gwIp === null) return value
  return formatMessengerHeader(h.items.map(([k, v]) => [k, k.toLowerCase() === 'gw-ip' ? gwIp : v] as [string, string]))
}

/** The part of a SessionID that stays the same for the life of a session (before the dot). */
export function sessionKey(sessionId: string): string {
  const dot = sessionId.indexOf('.')
  return dot < 0 ? sessionId : sessionId.slice(0, dot)
}

export type GatewayAction = 'open' | 'poll' | 'send'

export interface GatewayRequest {
  /** host named by an absolute-form target (a request to an HTTP proxy), else null */
  host: string | null
  path: string
  /** the path is the gateway's */
  isGateway: boolean
  /** `open` and `poll` from Action=; `send` for a plain SessionID= request; other values as sent */
  action: GatewayAction | string | null
  /** Server= (`NS` or `SB`) */
  server: string | null
  /** IP= (the host the client would have connected to; no port means 1863) */
  ip: string | null
  sessionId: string | null
  params: Array<[string, string]>
}

function decode(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s
  try { return decodeURIComponent(s.replace(/\+/g, ' ')) } catch { return s }
}

/** Parse a request target in origin form (`/gateway/gateway.dll?…`) or absolute form (`http://host/…`). */
export function parseGatewayTarget(target: string): GatewayRequest {
  let host: string | null = null
  let rest = target
  if (target.charCodeAt(0) !== 0x2f) {
    const abs = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target)
    if (abs !== null) {
      host = abs[1]!
      rest = target.slice(abs[0].length) || '/'
    }
  }
  const q = rest.indexOf('?')
  const path = q < 0 ? rest : rest.slice(0, q)
  const req: GatewayRequest = { host, path, isGateway: path.toLowerCase() === GATEWAY_PATH, action: null, server: null, ip: null, sessionId: null, params: [] }
  if (q < 0) return req
  let action: string | null = null
  const hash = rest.indexOf('#', q)
  for (const pair of rest.slice(q + 1, hash < 0 ? rest.length : hash).split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const k = decode(eq < 0 ? pair : pair.slice(0, eq))
    const v = eq < 0 ? '' : decode(pair.slice(eq + 1))
    req.params.push([k, v])
    // the first of each wins
    switch (k.toLowerCase()) {
      case 'sessionid': req.sessionId ??= v; break
      case 'action': action ??= v; break
      case 'server': req.server ??= v; break
      case 'ip': req.ip ??= v; break
    }
  }
  req.action = action !== null ? action.toLowerCase() : req.sessionId !== null ? 'send' : null
  return req
}

/** `IP=192.0.2.77` → `192.0.2.77:1863`; a port given stays. */
export function gatewayTargetAddress(ip: string): string {
  if (ip.startsWith('[')) return ip.includes(']:') ? ip : `${ip}:1863`
  const colons = ip.split(':').length - 1
  if (colons === 1) return ip
  return colons > 1 ? `[${ip}]:1863` : `${ip}:1863`
}
