/**
 * Keeps every referred connection inside the proxy: for each real address an XFR or RNG hands
 * out, one listener of the proxy's own (reused for the same address, bounded in number, closed
 * when idle). A connection accepted there is relayed to that real address.
 */
import net from 'node:net'
import type { Role } from '../protocol/events.js'

export interface RedirectTarget {
  real: { host: string; port: number }
  kind: Exclude<Role, 'DS' | '?'>
}

interface Entry {
  key: string
  target: RedirectTarget
  server: net.Server
  port: number
  active: number
  lastUsed: number
}

export interface RedirectPoolOptions {
  host: string
  maxListeners: number
  idleMs: number
  /** inclusive port range to use instead of ephemeral ports */
  portRange?: [number, number]
  onConnection: (socket: net.Socket, target: RedirectTarget, release: () => void) => void
  now?: () => number
}

export class RedirectPool {
  readonly #entries = new Map<string, Entry>()
  readonly #pending = new Map<string, Promise<Entry | null>>()
  readonly #o: RedirectPoolOptions
  #reaper: NodeJS.Timeout | undefined
  #nextPort: number

  constructor(o: RedirectPoolOptions) {
    this.#o = o
    this.#nextPort = o.portRange?.[0] ?? 0
    if (o.idleMs > 0) {
      this.#reaper = setInterval(() => this.reap(), Math.max(1000, Math.min(o.idleMs / 2, 30_000)))
      this.#reaper.unref()
    }
  }

  get size(): number { return this.#entries.size }

  #now(): number { return this.#o.now?.() ?? Date.now() }

  /** The local port that leads to `target`, opening a listener if needed; null when the pool is full. */
  async portFor(target: RedirectTarget): Promise<number | null> {
    const key = `${target.kind} ${target.real.host}:${target.real.port}`
    const have = this.#entries.get(key)
    if (have !== undefined) { have.lastUsed = this.#now(); return have.port }
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = this.#open(key, target)
      this.#pending.set(key, pending)
      void pending.finally(() => this.#pending.delete(key))
    }
    const entry = await pending
    return entry === null ? null : entry.port
  }

  async #open(key: string, target: RedirectTarget): Promise<Entry | null> {
    if (this.#entries.size >= this.#o.maxListeners) {
      this.reap(Math.min(this.#o.idleMs, 30_000))
      if (this.#entries.size >= this.#o.maxListeners) return null
    }
    const tries = this.#o.portRange === undefined ? 1 : this.#o.portRange[1] - this.#o.portRange[0] + 1
    for (let i = 0; i < tries; i++) {
      const port = this.#o.portRange === undefined ? 0 : this.#takePort()
      const entry: Entry = { key, target, server: net.createServer({ allowHalfOpen: true, pauseOnConnect: true }), port, active: 0, lastUsed: this.#now() }
      entry.server.on('connection', (socket) => {
        entry.active++
        entry.lastUsed = this.#now()
        let released = false
        this.#o.onConnection(socket, target, () => {
          if (released) return
          released = true
          entry.active--
          entry.lastUsed = this.#now()
        })
      })
      const ok = await new Promise<boolean>((resolve) => {
        entry.server.once('error', () => resolve(false))
        entry.server.listen(port, this.#o.host, () => resolve(true))
      })
      if (!ok) continue
      entry.server.on('error', () => { /* accept errors (EMFILE) are per connection */ })
      entry.port = (entry.server.address() as net.AddressInfo).port
      this.#entries.set(key, entry)
      return entry
    }
    return null
  }

  #takePort(): number {
    const [lo, hi] = this.#o.portRange!
    const p = this.#nextPort
    this.#nextPort = p >= hi ? lo : p + 1
    return p
  }

  /** Close listeners with no connection that have been idle for `idleMs`. */
  reap(idleMs = this.#o.idleMs): void {
    const now = this.#now()
    for (const [key, e] of this.#entries) {
      if (e.active === 0 && now - e.lastUsed >= idleMs) {
        e.server.close()
        this.#entries.delete(key)
      }
    }
  }

  async close(): Promise<void> {
    if (this.#reaper !== undefined) clearInterval(this.#reaper)
    await Promise.all([...this.#entries.values()].map((e) => new Promise<void>((resolve) => e.server.close(() => resolve()))))
    this.#entries.clear()
  }
}
