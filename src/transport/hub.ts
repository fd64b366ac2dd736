/** Numbers and stamps events from every connection of a live source, then hands them to the sinks. */
import type { EventBase, EventSink, ScopeEvent } from '../events.js'
import type { ConnState } from '../session/tracker.js'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
export type PendingEvent = DistributiveOmit<ScopeEvent, 'seq' | 'ts'> & { ts?: string }

export class EventHub {
  #seq = 0
  #sinks: EventSink[] = []
  #nextConn = 0
  constructor(readonly now: () => string = isoNow) {}

  addSink(sink: EventSink): () => void {
    this.#sinks.push(sink)
    return () => { this.#sinks = this.#sinks.filter((s) => s !== sink) }
  }

  /** `c1`, `c2` … in order of each connection's first byte. */
  nextConnId(): string { return `c${++this.#nextConn}` }

  get emitted(): number { return this.#seq }

  /** Stamps the event in place (it becomes the emitted object) and hands it to every sink. */
  emit(ev: PendingEvent): ScopeEvent {
    const full = ev as ScopeEvent
    full.seq = ++this.#seq
    if (ev.ts === undefined) full.ts = this.now()
    for (const sink of this.#sinks) {
      try { sink(full) } catch { /* a failing sink must not take the traffic down */ }
    }
    return full
  }

  base(state: ConnState): Omit<EventBase, 'seq' | 'ts'> {
    return {
      conn: state.conn, transport: state.transport, client: state.client, server: state.server,
      role: state.role, account: state.account, dialect: state.dialectState.dialect,
    }
  }
}

let lastMs = 0
let lastIso = ''
/** Wall time as ISO 8601; events of the same millisecond share one string. */
export function isoNow(): string {
  const ms = Date.now()
  if (ms !== lastMs) { lastMs = ms; lastIso = new Date(ms).toISOString() }
  return lastIso
}

/** `ip:port`, with IPv6 addresses in brackets. */
export function endpoint(address: string | undefined, port: number | undefined): string | null {
  if (address === undefined || port === undefined) return null
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`
}

/** Split `host:port` (or `[v6]:port`); the port defaults to 1863 as in MSNP referrals. */
export function splitHostPort(text: string, defaultPort = 1863): { host: string; port: number } | null {
  let host = text
  let port = defaultPort
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (v6 !== null) {
    host = v6[1]!
    if (v6[2] !== undefined) port = Number(v6[2])
  } else {
    const i = text.lastIndexOf(':')
    if (i >= 0 && text.indexOf(':') === i) {
      host = text.slice(0, i)
      port = Number(text.slice(i + 1))
    }
  }
  if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) return null
  return { host, port }
}
