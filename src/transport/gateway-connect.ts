/**
 * CONNECT on the gateway listener (clients that use msnscope as their HTTP proxy for TCP too):
 * a CONNECT to an MSNP port becomes a TCP relay (relay.ts) over the tunnel socket, decoded and
 * decided exactly as on the TCP proxy; anything else gets 403 unless any traffic is allowed,
 * in which case it is tunnelled without being looked at.
 */
import type http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { Limits } from '../protocol/decoder.js'
import type { Decider } from '../rules/decision.js'
import type { SessionTracker } from '../session/tracker.js'
import { endpoint, splitHostPort, type EventHub } from './hub.js'
import { Relay } from './relay.js'

export interface ConnectContext {
  hub: EventHub
  tracker: SessionTracker
  decider: () => Decider
  limits: Limits
  idleTimeoutMs: number
  dialFrom?: string
  msnpPorts: readonly number[]
  allowAny: boolean
  /** how many more sessions may open now */
  room: () => number
  relays: Set<Relay>
  tunnels: Set<Duplex>
  counted: (what: 'refused' | 'connectRelays') => void
}

export function handleConnect(c: ConnectContext, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => {})
  const target = splitHostPort(req.url ?? '', 443)
  const client = endpoint(req.socket.remoteAddress, req.socket.remotePort)
  const msnp = target !== null && c.msnpPorts.includes(target.port)
  if (target === null || (!msnp && !c.allowAny)) {
    c.counted('refused')
    c.hub.emit({ conn: '-', transport: 'http', client, server: null, role: '?', kind: 'http', from: 'client', method: 'CONNECT', url: req.url ?? '', status: 403, bodyLength: 0, note: 'CONNECT is relayed to MSNP ports only (see --allow-any-http)' })
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')
    return
  }
  if (c.room() <= 0) {
    c.hub.emit({ conn: '-', transport: 'http', client, server: null, role: '?', kind: 'limit', limit: 'max-sessions', detail: `refused a CONNECT to ${req.url ?? ''}: too many sessions open` })
    socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n')
    return
  }
  socket.write('HTTP/1.1 200 Connection established\r\n\r\n')
  const local = c.dialFrom !== undefined ? { localAddress: c.dialFrom } : {}
  if (!msnp) {
    const up = net.connect({ host: target.host, port: target.port, ...local })
    c.tunnels.add(socket)
    up.on('error', () => socket.destroy())
    socket.on('close', () => { up.destroy(); c.tunnels.delete(socket) })
    up.on('close', () => socket.destroy())
    if (head.length > 0) up.write(head)
    socket.pipe(up)
    up.pipe(socket)
    return
  }
  c.counted('connectRelays')
  const state = c.tracker.open({ conn: c.hub.nextConnId(), transport: 'tcp', client, server: endpoint(target.host, target.port) })
  const relay = new Relay({
    state, client: socket as net.Socket, tracker: c.tracker, hub: c.hub, decider: (e, ctx) => c.decider()(e, ctx),
    upstream: { host: target.host, port: target.port, ...local },
    limits: c.limits, idleTimeoutMs: c.idleTimeoutMs,
    onClose: (r) => { c.relays.delete(r) },
    ...(head.length > 0 ? { preface: head } : {}),
  })
  c.relays.add(relay)
}
