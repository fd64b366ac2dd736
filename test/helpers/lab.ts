/** Test helpers around the lab and the proxy: byte-recording client transports, event collection. */
import { once } from 'node:events'
import net from 'node:net'
import type { LabTransport } from '../../src/lab/channel.js'
import type { ScopeEvent } from '../../src/events.js'

export interface RecordedConnection { role: string; port: number; sent: Buffer[] }

/** Lab clients over plain TCP, recording every byte each connection writes. */
export function recordingTransport(log: RecordedConnection[], localAddress?: string): LabTransport {
  return {
    connect: async (target) => {
      const socket = net.connect({ host: target.host, port: target.port, ...(localAddress !== undefined ? { localAddress } : {}) })
      await once(socket, 'connect')
      const entry: RecordedConnection = { role: target.role, port: target.port, sent: [] }
      log.push(entry)
      const write = socket.write.bind(socket) as (...a: unknown[]) => boolean
      socket.write = ((chunk: unknown, ...rest: unknown[]) => {
        entry.sent.push(Buffer.isBuffer(chunk) ? Buffer.from(chunk) : Buffer.from(String(chunk)))
        return write(chunk, ...rest)
      }) as typeof socket.write
      return socket
    },
  }
}

/** Collects events; `waitFor` resolves when a matching one has arrived (already or later). */
export class EventLog {
  readonly events: ScopeEvent[] = []
  #waiters: { pred: (e: ScopeEvent) => boolean; resolve: (e: ScopeEvent) => void }[] = []
  readonly sink = (e: ScopeEvent): void => {
    this.events.push(e)
    this.#waiters = this.#waiters.filter((w) => { if (w.pred(e)) { w.resolve(e); return false } return true })
  }
  waitFor(pred: (e: ScopeEvent) => boolean): Promise<ScopeEvent> {
    const have = this.events.find(pred)
    if (have !== undefined) return Promise.resolve(have)
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }))
  }
  commands(): Extract<ScopeEvent, { kind: 'command' }>[] {
    return this.events.filter((e): e is Extract<ScopeEvent, { kind: 'command' }> => e.kind === 'command')
  }
}

/** How lab clients reach the servers once msnscope stands in front of the lab. */
export type LabConnect = { host: string; port: number; transport?: LabTransport }

/**
 * msnscope in front of a lab server: the TCP proxy (`tcp`) or the HTTP gateway in reverse mode
 * in front of a lab gateway (`gateway`), sharing `hub`, `tracker` and `decider`. Closed by `t`.
 */
export async function msnscopeInFront(
  t: import('node:test').TestContext, lab: import('../../src/lab/server.js').LabServer, path: 'tcp' | 'gateway',
  o: {
    hub: import('../../src/transport/hub.js').EventHub; tracker: import('../../src/session/tracker.js').SessionTracker; decider: import('../../src/rules/decision.js').Decider; labHost: string
    /** the lab gateway msnscope stands in front of (gateway path only), for tests that look at what reached it */
    onLabGateway?: (g: import('../../src/lab/gateway.js').LabGateway) => void
  },
): Promise<LabConnect> {
  if (path === 'tcp') {
    const { TcpProxy } = await import('../../src/transport/tcp-proxy.js')
    const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, hub: o.hub, tracker: o.tracker, decider: o.decider })
    const addr = await proxy.start()
    t.after(() => proxy.close())
    return { host: addr.host, port: addr.port }
  }
  const { gatewayTransport, startLabGateway } = await import('../../src/lab/gateway.js')
  const { HttpGateway } = await import('../../src/transport/http-gateway.js')
  const labGateway = await startLabGateway({ host: o.labHost, gwIp: null, backend: { ns: lab.ns, sb: lab.sb } })
  t.after(() => labGateway.close())
  o.onLabGateway?.(labGateway)
  const gateway = new HttpGateway({ listen: { host: '127.0.0.1', port: 0 }, upstream: labGateway.address, hub: o.hub, tracker: o.tracker, decider: o.decider })
  const addr = await gateway.start()
  t.after(() => gateway.close())
  return { host: 'messenger.hotmail.com', port: 1863, transport: gatewayTransport({ gateway: addr, pollIntervalMs: 10 }) }
}
