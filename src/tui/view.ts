/**
 * The list of events the dashboard shows: every stored event, or those a filter matches. A new
 * filter is applied to the events already stored in the background, a slice at a time, while new
 * arrivals are matched as they come; positions stay in arrival order throughout.
 *
 * Matches are kept as compact arrays of store indexes, bounded (`maxMatches`): past it the oldest
 * matches leave the list, and `dropped` says how many.
 */
import type { ScopeEvent } from '../events.js'
import type { EventFilter, FilterContext } from '../filter.js'
import type { EventStore } from './store.js'

/** A growable array of unsigned 32-bit numbers that can also drop from the front. */
class U32List {
  #a = new Uint32Array(1024)
  #start = 0
  #end = 0
  get length(): number { return this.#end - this.#start }
  at(i: number): number { return this.#a[this.#start + i]! }
  push(v: number): void {
    if (this.#end === this.#a.length) {
      const live = this.#end - this.#start
      const next = live * 2 > this.#a.length ? new Uint32Array(this.#a.length * 2) : this.#a
      next.set(this.#a.subarray(this.#start, this.#end), 0)
      this.#a = next
      this.#start = 0
      this.#end = live
    }
    this.#a[this.#end++] = v
  }
  dropFront(n: number): void { this.#start = Math.min(this.#end, this.#start + n) }
  /** index of the first element >= v (the list is sorted) */
  lowerBound(v: number): number {
    let lo = this.#start
    let hi = this.#end
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#a[mid]! < v) lo = mid + 1
      else hi = mid
    }
    return lo - this.#start
  }
}

export class EventView {
  readonly #store: EventStore
  readonly #ctx: FilterContext
  readonly #maxMatches: number
  #filter: EventFilter | null = null
  /** matches found by the background scan of events stored before the filter was set */
  #scanned = new U32List()
  /** matches among events that arrived after the filter was set */
  #tail = new U32List()
  #scanPos = 0
  #scanEnd = 0
  #dropped = 0

  constructor(store: EventStore, ctx: FilterContext = {}, maxMatches = 4_000_000) {
    this.#store = store
    this.#ctx = ctx
    this.#maxMatches = maxMatches
  }

  get filter(): EventFilter | null { return this.#filter }
  get length(): number { return this.#filter === null ? this.#store.size : this.#scanned.length + this.#tail.length }
  /** matches that left the list because of its bound */
  get dropped(): number { return this.#dropped }
  /** true while older events are still being matched against a new filter */
  get scanning(): boolean { return this.#filter !== null && this.#scanPos < this.#scanEnd }
  /** 0..1 progress of the background match */
  get progress(): number { return this.#scanEnd === 0 ? 1 : this.#scanPos / this.#scanEnd }

  /** The store index at list position `pos`. */
  at(pos: number): number {
    if (this.#filter === null) return pos
    const s = this.#scanned.length
    return pos < s ? this.#scanned.at(pos) : this.#tail.at(pos - s)
  }

  /** The list position of the first event at or after store index `index` (length when none). */
  positionOf(index: number): number {
    if (this.#filter === null) return Math.min(Math.max(0, index), this.#store.size)
    const s = this.#scanned.lowerBound(index)
    if (s < this.#scanned.length) return s
    return this.#scanned.length + this.#tail.lowerBound(index)
  }

  setFilter(filter: EventFilter | null): void {
    this.#filter = filter
    this.#scanned = new U32List()
    this.#tail = new U32List()
    this.#dropped = 0
    this.#scanPos = 0
    this.#scanEnd = filter === null ? 0 : this.#store.size
  }

  /** A new event was appended to the store at `index`. */
  added(ev: ScopeEvent, index: number): void {
    if (this.#filter === null || !this.#filter.match(ev, this.#ctx)) return
    this.#tail.push(index)
    this.#bound()
  }

  /** Match up to `budget` stored events against the filter; true when the scan is complete. */
  scan(budget: number): boolean {
    const f = this.#filter
    if (f === null) return true
    const end = Math.min(this.#scanEnd, this.#scanPos + budget)
    for (let i = this.#scanPos; i < end; i++) {
      const ev = this.#store.get(i)
      if (ev !== undefined && f.match(ev, this.#ctx)) this.#scanned.push(i)
    }
    this.#scanPos = end
    this.#bound()
    return this.#scanPos >= this.#scanEnd
  }

  #bound(): void {
    let over = this.#scanned.length + this.#tail.length - this.#maxMatches
    if (over <= 0) return
    const fromScanned = Math.min(over, this.#scanned.length)
    this.#scanned.dropFront(fromScanned)
    over -= fromScanned
    this.#tail.dropFront(over)
    this.#dropped += fromScanned + over
  }
}
