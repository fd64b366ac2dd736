/**
 * Everything the dashboard knows, without the terminal: the event store and the filtered list,
 * the connection tree, chat transcripts, counters, marks, commands held by intercept, and the
 * selection (following the newest event, or fixed). app.ts draws it and feeds it keys; tests
 * and benchmarks can drive it directly.
 */
import type { ScopeEvent } from '../events.js'
import type { EventFilter, FilterContext } from '../filter.js'
import { ChatLog } from './chat.js'
import { ConnTable } from './conns.js'
import { EventStore } from './store.js'
import { EventView } from './view.js'

export interface Counters {
  events: number
  commands: number
  bytes: number
  blocked: number
  rewritten: number
  errors: number
  ruleHits: number
}

export interface ModelOptions {
  /** estimated bytes of events kept in memory (the rest is spilled to disk) */
  memoryBudget: number
  spillDir?: string
}

export class DashboardModel {
  readonly store: EventStore
  readonly view: EventView
  readonly conns = new ConnTable()
  readonly chat = new ChatLog()
  readonly counters: Counters = { events: 0, commands: 0, bytes: 0, blocked: 0, rewritten: 0, errors: 0, ruleHits: 0 }
  readonly ruleHits = new Map<string, number>()
  /** seqs of the events the user marked */
  readonly marked = new Set<number>()
  /** held commands: seq → store index */
  readonly held = new Map<number, number>()
  readonly filterContext: FilterContext

  /** the selected event's store index (ignored while following) */
  selIndex = -1
  follow = true
  /** while paused the list shows only the first `frozenLength` positions */
  paused = false
  frozenLength = 0
  ended = false
  intercept: EventFilter | null = null
  /** bumped whenever anything visible changed */
  version = 0

  constructor(options: ModelOptions) {
    this.store = new EventStore({ budget: options.memoryBudget, ...(options.spillDir !== undefined ? { dir: options.spillDir } : {}) })
    this.filterContext = {
      marked: (ev) => this.marked.has(ev.seq),
      held: (ev) => this.held.has(ev.seq),
    }
    this.view = new EventView(this.store, this.filterContext)
    this.conns.onForget = (conns) => this.chat.forget(conns)
  }

  push(ev: ScopeEvent, held = false): number {
    const index = this.store.append(ev)
    if (index < 0) return index
    const c = this.counters
    c.events++
    switch (ev.kind) {
      case 'command':
        c.commands++
        c.bytes += ev.command.raw.length
        if (ev.action === 'block' || ev.action === 'reject') c.blocked++
        else if (ev.action === 'rewrite') c.rewritten++
        // msnscope's own rewrites (referral addresses: `msnscope:redirect`) are not rule hits
        if (ev.rule !== undefined && !ev.rule.startsWith('msnscope:')) {
          c.ruleHits++
          this.ruleHits.set(ev.rule, (this.ruleHits.get(ev.rule) ?? 0) + 1)
        }
        if (ev.command.verb.length === 3 && ev.command.verb.charCodeAt(0) >= 48 && ev.command.verb.charCodeAt(0) <= 57) c.errors++
        break
      case 'malformed':
        c.bytes += ev.raw.length
        c.errors++
        break
      case 'rule-error': case 'limit':
        c.errors++
        break
      case 'stats': {
        const hits = ev.counters.ruleHits
        if (typeof hits === 'number' && hits > c.ruleHits) c.ruleHits = hits
        break
      }
      default:
    }
    if (held) this.held.set(ev.seq, index)
    this.view.added(ev, index)
    this.conns.add(ev, index)
    this.chat.add(ev, index)
    this.version++
    return index
  }

  /** Forget that a command is held (released by the user or by the source). */
  released(seq: number): boolean {
    if (!this.held.delete(seq)) return false
    this.version++
    return true
  }

  /** Length of the list as shown (frozen while paused). */
  get listLength(): number {
    const n = this.view.length
    return this.paused ? Math.min(n, this.frozenLength) : n
  }

  /** The selected list position, or -1 when the list is empty. */
  get selPos(): number {
    const n = this.listLength
    if (n === 0) return -1
    if (this.follow) return n - 1
    const pos = this.view.positionOf(this.selIndex)
    return Math.min(pos, n - 1)
  }

  /** The store index of the selected event, or -1. */
  get selected(): number {
    const pos = this.selPos
    return pos < 0 ? -1 : this.view.at(pos)
  }

  selectPos(pos: number): void {
    const n = this.listLength
    if (n === 0) return
    const p = Math.max(0, Math.min(n - 1, pos))
    this.selIndex = this.view.at(p)
    this.follow = !this.paused && p === n - 1 && this.follow
    this.version++
  }

  /** Move the selection by `delta` list positions; moving stops following. */
  move(delta: number): void {
    const pos = this.selPos
    if (pos < 0) return
    this.follow = false
    this.selectPos(pos + delta)
  }

  setFollow(on: boolean): void {
    this.follow = on
    if (on) this.paused = false
    this.version++
  }

  setPaused(on: boolean): void {
    this.paused = on
    if (on) { this.frozenLength = this.view.length; if (this.follow) { this.selIndex = this.selected; this.follow = false } }
    this.version++
  }

  setFilter(filter: EventFilter | null): void {
    const keep = this.selected
    this.view.setFilter(filter)
    // a new list: nothing to hold still
    this.paused = false
    if (!this.follow && keep >= 0) this.selIndex = keep
    this.version++
  }

  /**
   * Select the next event of the list (after the selection, wrapping round) that `filter`
   * matches; looks at up to `limit` events. Returns what it selected, or null.
   */
  findNext(filter: EventFilter, dir: 1 | -1, limit = 1_000_000): { seq: number; wrapped: boolean } | null {
    const n = this.listLength
    if (n === 0) return null
    const start = this.selPos
    for (let step = 1; step <= Math.min(n, limit); step++) {
      const pos = (((start + dir * step) % n) + n) % n
      const ev = this.store.get(this.view.at(pos))
      if (ev !== undefined && filter.match(ev, this.filterContext)) {
        this.follow = false
        this.selectPos(pos)
        return { seq: ev.seq, wrapped: dir === 1 ? pos <= start : pos >= start }
      }
    }
    return null
  }

  toggleMark(seq: number): boolean {
    const on = !this.marked.has(seq)
    if (on) this.marked.add(seq)
    else this.marked.delete(seq)
    this.version++
    return on
  }

  close(): void {
    this.store.close()
  }
}
