/**
 * Intercept for the live transports: commands matching a filter are held at the decision point
 * until the user releases them, as they were or edited. A held command is announced at once as
 * its own event (tag `held`), so the dashboard can show it; when it is let go, the command is
 * emitted again with its final action (`rewrite` by rule `intercept` when edited) and the tag
 * `released:<seq of the held event>`. Holding a command pauses its direction of its connection
 * only; everything else flows on.
 */
import type { CommandScopeEvent } from '../events.js'
import type { EventFilter } from '../filter.js'
import type { Decider, Decision } from '../rules/decision.js'
import type { EventHub } from './hub.js'

interface Held { resolve: (d: Decision) => void; decision: Decision }

export class Interceptor {
  filter: EventFilter | null = null
  readonly #held = new Map<number, Held>()

  constructor(readonly hub: EventHub) {}

  get holding(): number { return this.#held.size }

  /** The decider to install on a transport: `inner` decides, then matching commands wait. */
  wrap(inner: () => Decider): Decider {
    return (event, ctx) => {
      const d = inner()(event, ctx)
      if (this.filter === null) return d
      return d instanceof Promise ? d.then((x) => this.#maybeHold(event, x)) : this.#maybeHold(event, d)
    }
  }

  #maybeHold(event: CommandScopeEvent, d: Decision): Decision | Promise<Decision> {
    const f = this.filter
    if (f === null || d.verdict === 'drop' || d.verdict === 'close' || !f.match(event)) return d
    const shown = this.hub.emit({ ...event, ts: event.ts === '' ? this.hub.now() : event.ts, tags: [...(event.tags ?? []), 'held'] } as never)
    return new Promise<Decision>((resolve) => this.#held.set(shown.seq, { resolve, decision: d }))
  }

  /** Let a held command go, unchanged or as these bytes (a whole command, lengths already right). */
  release(seq: number, edited?: Buffer): boolean {
    const h = this.#held.get(seq)
    if (h === undefined) return false
    this.#held.delete(seq)
    const tags = [...(h.decision.tags ?? []), `released:${seq}`]
    h.resolve(edited === undefined
      ? { ...h.decision, tags }
      : { ...h.decision, verdict: 'replace', bytes: edited, action: 'rewrite', rule: 'intercept', tags })
    return true
  }

  /** Stop intercepting and let everything held go. */
  releaseAll(): void {
    this.filter = null
    for (const seq of [...this.#held.keys()]) this.release(seq)
  }
}
