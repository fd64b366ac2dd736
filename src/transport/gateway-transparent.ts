/**
 * What the gateway listener does with a request in transparent mode (docs/transparent.md), and
 * where it goes: the original destination of its connection when the firewall redirected it
 * (SO_ORIGINAL_DST, read once per connection, since keep-alive connections carry many
 * requests), else the host its Host header names, unless that is msnscope's own listener.
 * Gateway requests are decoded on the way; anything else the firewall redirected passes
 * through untouched; the rest is served as in the explicit modes. http-gateway.ts carries it out.
 *
 * Never: send a request to msnscope's own listener (that would loop): a connection to it was not
 * redirected, and a Host that names it (literally or by a name that resolves to it) is not a
 * destination.
 */
// C: GET /chat HTTP/1.1  Upgrade: websocket   (redirected: goes on to the original destination as it came)
import { lookup } from 'node:dns/promises'
import type http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { GatewayRequest } from '../protocol/gateway.js'
import { splitHostPort } from './hub.js'
import { isOwnListener, originalDestination } from './original-dst.js'

export interface Destination { host: string; port: number }

export type TransparentRoute =
  /** MSN gateway traffic: decoded, then on to `to` */
  | { kind: 'gateway'; to: Destination }
  /** anything else: relayed (or tunnelled) untouched to `to` */
  | { kind: 'pass'; to: Destination }
  /** not redirected, nor meant for elsewhere: served as in reverse or forward-proxy mode */
  | { kind: 'explicit' }

export class TransparentDestinations {
  readonly #redirected = new WeakMap<net.Socket, Destination | null>()

  /** `listening`: the listener's own address (null before it listens) */
  constructor(readonly listening: () => { address: string; port: number } | null) {}

  /** The original destination of the request's connection, or null when it was not redirected. */
  redirected(socket: net.Socket): Destination | null {
    let d = this.#redirected.get(socket)
    if (d === undefined) {
      const original = originalDestination(socket)
      const self = this.listening()
      d = original !== null && self !== null && !isOwnListener(original, self) ? original : null
      this.#redirected.set(socket, d)
    }
    return d
  }

  /**
   * A request: `allowAny` lets requests that were not redirected go where Host points too.
   * Synchronous for redirected connections; a Host name is looked up first.
   */
  route(req: http.IncomingMessage, target: GatewayRequest, allowAny: boolean): TransparentRoute | Promise<TransparentRoute> {
    const gateway = target.isGateway && (req.method === 'POST' || req.method === 'OPTIONS')
    // a gateway request with an absolute URI (a client that uses an HTTP proxy) is served as in forward-proxy mode
    if (gateway && target.host !== null) return EXPLICIT
    // CORS preflights are not MSNP
    const kind = gateway && req.method === 'POST' ? 'gateway' : 'pass'
    const redirected = this.redirected(req.socket)
    if (redirected !== null) return { kind, to: redirected }
    // not redirected: gateway requests go where Host points, anything else only when allowed
    if (target.host !== null || (!gateway && !allowAny)) return EXPLICIT
    return this.named(req).then((to) => (to === null ? EXPLICIT : { kind, to }))
  }

  /** The host and port of the Host header (port 80 when absent); null when missing, unusable or msnscope itself. */
  async named(req: http.IncomingMessage): Promise<Destination | null> {
    const host = req.headers.host
    if (host === undefined || host === '') return null
    const d = splitHostPort(host, 80)
    const self = this.listening()
    if (d === null || self === null || isOwnListener(d, self)) return null
    if (net.isIP(d.host) === 0) {
      const addresses = await lookup(d.host, { all: true }).catch(() => [])
      if (addresses.some((a) => isOwnListener({ host: a.address, port: d.port }, self))) return null
    }
    return d
  }
}

const EXPLICIT: TransparentRoute = Object.freeze({ kind: 'explicit' as const })

export interface TunnelOptions {
  localAddress?: string
  /** both sockets are kept here while the tunnel lasts (closed at shutdown) */
  tunnels: Set<Duplex>
  onError: (error: string) => void
}

/**
 * Pass on a request that takes over its connection (Upgrade, CONNECT) untouched: its head as it
 * came (raw header names, order and values), whatever followed it, then bytes both ways.
 */
export function tunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer, to: Destination, o: TunnelOptions): void {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`]
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]!}: ${raw[i + 1]!}`)
  const up = net.connect({ host: to.host, port: to.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) })
  o.tunnels.add(socket)
  o.tunnels.add(up)
  let connected = false
  up.once('connect', () => { connected = true })
  // an end goes on through the pipes (so the last bytes are written); a failure ends both sides
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (connected) return void socket.destroy()
    o.onError(err.code ?? err.message)
    if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    else socket.destroy()
  })
  socket.on('error', () => up.destroy())
  socket.on('close', () => { o.tunnels.delete(socket); up.destroy() })
  up.on('close', () => { o.tunnels.delete(up) })
  up.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]))
  socket.pipe(up)
  up.pipe(socket)
}
