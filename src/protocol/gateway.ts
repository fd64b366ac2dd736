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
  const items: Array<[string, string]> = []
  for (const part of value.split(';')) {
    const item = part.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    items.push(eq < 0 ? [item, ''] : [item.slice(0, eq).trim(), item.slice(eq + 1).trim()])
  }
  const get = (key: string): string | null => {
    const lower = key.toLowerCase()
    for (const [k, v] of items) if (k.toLowerCase() === lower) return v
    return null
  }
  const session = get('Session')
  return { sessionId: get('SessionID'), gwIp: get('GW-IP'), sessionClose: session !== null && session.toLowerCase() === 'close', items }
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

const decode = (s: string): string => {
  try { return decodeURIComponent(s.replace(/\+/g, ' ')) } catch { return s }
}

/** Parse a request target in origin form (`/gateway/gateway.dll?…`) or absolute form (`http://host/…`). */
export function parseGatewayTarget(target: string): GatewayRequest {
  let host: string | null = null
  let rest = target
  const abs = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target)
  if (abs !== null) {
    host = abs[1]!
    rest = target.slice(abs[0].length) || '/'
  }
  const q = rest.indexOf('?')
  const path = q < 0 ? rest : rest.slice(0, q)
  const params: Array<[string, string]> = []
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('#')[0]!.split('&')) {
      if (pair === '') continue
      const eq = pair.indexOf('=')
      params.push(eq < 0 ? [decode(pair), ''] : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))])
    }
  }
  const get = (key: string): string | null => {
    const lower = key.toLowerCase()
    for (const [k, v] of params) if (k.toLowerCase() === lower) return v
    return null
  }
  const sessionId = get('SessionID')
  const actionParam = get('Action')
  const action = actionParam !== null ? actionParam.toLowerCase() : sessionId !== null ? 'send' : null
  return {
    host, path, isGateway: path.toLowerCase() === GATEWAY_PATH, action,
    server: get('Server'), ip: get('IP'), sessionId, params,
  }
}

/** `IP=192.0.2.77` → `192.0.2.77:1863`; a port given stays. */
export function gatewayTargetAddress(ip: string): string {
  if (ip.startsWith('[')) return ip.includes(']:') ? ip : `${ip}:1863`
  const colons = ip.split(':').length - 1
  if (colons === 1) return ip
  return colons > 1 ? `[${ip}]:1863` : `${ip}:1863`
}
