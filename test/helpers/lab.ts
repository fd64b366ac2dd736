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
