/**
 * Keeps the dashboard's process under its memory cap (RSS). The event store holds only a small
 * share of events in memory; when the process grows past three quarters of the cap that share is
 * halved (the rest goes to the spill file), and past 90% a full garbage collection is asked for,
 * at most every few seconds: V8 lets a busy heap grow to several times what is live before it
 * collects, which under sustained traffic is the larger part of RSS. When the process is small
 * again, the share grows back.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import type { EventStore } from './store.js'

let gcFn: (() => void) | null | undefined

/** A full GC, when the runtime lets us have one (exposed to a fresh context only). */
export function collectGarbage(): boolean {
  if (gcFn === undefined) {
    try {
      const existing = (globalThis as { gc?: () => void }).gc
      if (typeof existing === 'function') gcFn = existing
      else {
        v8.setFlagsFromString('--expose-gc')
        const fn: unknown = vm.runInNewContext('gc')
        gcFn = typeof fn === 'function' ? (fn as () => void) : null
      }
    } catch {
      gcFn = null
    }
  }
  if (gcFn === null) return false
  gcFn()
  return true
}

/** The in-memory share to start with: small, because live objects multiply into heap size. */
export function initialBudget(cap: number): number {
  return Math.max(2 * 1024 * 1024, Math.min(16 * 1024 * 1024, Math.floor(cap * 0.05)))
}

export class MemoryGovernor {
  readonly #store: EventStore
  readonly #cap: number
  readonly #initial: number
  #lastGc = 0
  peakRss = 0
  collections = 0

  constructor(store: EventStore, cap: number) {
    this.#store = store
    this.#cap = cap
    this.#initial = store.budget
  }

  /** Look at RSS and adjust; call it a few times per second. */
  check(now = Date.now()): number {
    const rss = process.memoryUsage.rss()
    if (rss > this.peakRss) this.peakRss = rss
    const store = this.#store
    if (rss > this.#cap * 0.75) store.setBudget(Math.max(256 * 1024, store.budget * 0.5))
    else if (rss < this.#cap * 0.5 && store.budget < this.#initial) store.setBudget(Math.min(this.#initial, store.budget * 1.25 + 512 * 1024))
    if (rss > this.#cap * 0.9 && now - this.#lastGc > 3000) {
      this.#lastGc = now
      if (collectGarbage()) this.collections++
    }
    return rss
  }
}
