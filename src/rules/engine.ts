/**
 * The rule engine: the Decider the transports call for every command. Rules run in order (the
 * files in the order given, each file's rules in its order); `tag` and `log` rules label the
 * command and go on, and the first other rule that matches decides. A command no rule decides
 * gets the default action (pass unless configured otherwise).
 *
 * Promises: a rule that throws becomes a `rule-error` event and is skipped; an asynchronous rule
 * that has not settled within the timeout becomes a `rule-error` and the command gets the default
 * action; replies to commands the engine sent to the server (injections, declines, replayed
 * copies) never reach the client, and the acknowledgements of P2P messages it made (or the later
 * chunks of one it blocked) go nowhere.
 * A synchronous rule that never returns cannot be stopped: that is out of scope.
 */
import type { CommandScopeEvent, EventSink, ScopeEvent, StatsEvent } from '../events.js'
import { MsnscopeError } from '../errors.js'
import { encodeCommand } from '../protocol/encoder.js'
import { replayInjections } from '../replay/inject.js'
import { blockAnswer, freshTrId, rejectAnswer } from './answers.js'
import { chain, injectBytes, resolveAction, type ResolvedAction } from './actions.js'
import { FORWARD, type Decision, type DecisionContext } from './decision.js'
import { Memory, type ConnMemory } from './memory.js'
import type { CommandView, LoadedRule, MaybePromise } from './rule.js'
import { makeView } from './view.js'

/** Time, handed in: rules/ never reads the clock itself. */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number
  /** call `fn` after `ms`; returns a function that cancels it */
  after(ms: number, fn: () => void): () => void
}

export type DefaultAction = 'pass' | 'block'

export interface RuleEngineOptions {
  clock: Clock
  /** how long an asynchronous rule may take (default 50 ms) */
  timeoutMs?: number
  /** what happens to a command no rule decides, and to one whose rule timed out (default pass) */
  defaultAction?: DefaultAction
}

type Outcome = ResolvedAction | null
type PendingEvent = Omit<ScopeEvent, 'seq'>
const TIMEOUT = Symbol('timeout')

export class RuleEngine {
  readonly memory = new Memory()
  readonly #clock: Clock
  readonly #timeoutMs: number
  #defaultAction: DefaultAction
  #sources = new Map<string, LoadedRule[]>()
  #rules: LoadedRule[] = []
  #hits = new Map<string, number>()
  #uses = new WeakMap<LoadedRule, number>()
  #errors = 0
  #timeouts = 0

  constructor(o: RuleEngineOptions) {
    this.#clock = o.clock
    this.#timeoutMs = o.timeoutMs ?? 50
    this.#defaultAction = o.defaultAction ?? 'pass'
  }

  get defaultAction(): DefaultAction { return this.#defaultAction }
  set defaultAction(a: DefaultAction) { this.#defaultAction = a }
  get timeoutMs(): number { return this.#timeoutMs }

  /** Every active rule, in the order they run. */
  get rules(): readonly LoadedRule[] { return this.#rules }

  /** The sources (files, presets) in the order they run. */
  get sources(): string[] { return [...this.#sources.keys()] }

  /**
   * Set (or replace, on reload) the rules of one source. Rule names must be unique across
   * sources, since hit counters are by name; a clash throws and changes nothing.
   */
  setRules(source: string, rules: readonly LoadedRule[]): void {
    const taken = new Map<string, string>()
    for (const [src, list] of this.#sources) if (src !== source) for (const r of list) taken.set(r.rule.name, src)
    for (const r of rules) {
      const other = taken.get(r.rule.name)
      if (other !== undefined) throw new MsnscopeError('ERULE', `${source}: rule "${r.rule.name}" (#${r.index}): the name is already used by a rule in ${other}`)
      const a = r.rule.action
      if (typeof a === 'object' && a.type === 'replay' && a.file !== undefined && r.sequence === undefined) {
        throw new MsnscopeError('ERULE', `${source}: rule "${r.rule.name}" (#${r.index}): action.file ${a.file} was not read: load these rules with loadRuleFile() or loadRules()`)
      }
    }
    this.#sources.set(source, [...rules])
    this.#flatten()
  }

  removeRules(source: string): void {
    if (this.#sources.delete(source)) this.#flatten()
  }

  #flatten(): void {
    this.#rules = [...this.#sources.values()].flat()
  }

  /** Hit counts: `rule:<name>` for every active rule, plus `rule-errors` and `rule-timeouts`. */
  counters(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const r of this.#rules) out[`rule:${r.rule.name}`] = this.#hits.get(r.rule.name) ?? 0
    for (const [name, n] of this.#hits) if (!(`rule:${name}` in out)) out[`rule:${name}`] = n
    out['rule-errors'] = this.#errors
    out['rule-timeouts'] = this.#timeouts
    return out
  }

  /** A `stats` event carrying the counters (the caller emits it, periodically and at the end). */
  statsEvent(): Omit<StatsEvent, 'seq' | 'ts'> {
    return { kind: 'stats', conn: '-', transport: 'tcp', client: null, server: null, role: '?', counters: this.counters() }
  }

  /** Give the engine every event, so that it forgets connections when they close. */
  readonly observe: EventSink = (ev) => {
    if (ev.kind === 'session-close') this.memory.forget(ev.conn)
  }

  /** The Decider for transports. */
  readonly decide = (event: CommandScopeEvent, ctx: DecisionContext): Decision | Promise<Decision> => {
    const mem = this.memory.get(event.conn)
    const cmd = event.command
    mem.observe(cmd)
    const own = this.#bookkeeping(event, mem)
    if (own !== null) return own
    if (this.#rules.length === 0 && this.#defaultAction === 'pass') return FORWARD
    const view = makeView(event, mem, this.#clock.now())
    return this.#run(this.#rules, 0, view, ctx, mem, [], null, [])
  }

  /** Replies to our own commands and acknowledgements of our own P2P messages stop here. */
  #bookkeeping(event: CommandScopeEvent, mem: ConnMemory): Decision | null {
    const cmd = event.command
    if (mem.isReplyToInjected(cmd)) return { verdict: 'drop', action: 'block', rule: 'msnscope:own-reply' }
    const p = cmd.payload
    if (cmd.verb !== 'MSG' || p === null || p.kind !== 'p2p' || p.version !== 1) return null
    const h = p.header as { identifier?: number; flags?: number; ackedIdentifier?: number } | undefined
    if (h === undefined || typeof h.identifier !== 'number') return null
    const ownAck = ((h.flags ?? 0) & 0x2) !== 0 && typeof h.ackedIdentifier === 'number' && mem.isOwnP2P(h.ackedIdentifier)
    if (!ownAck && !mem.isBlockedP2P(cmd.from, h.identifier)) return null
    // the switchboard would have acknowledged the MSG itself
    const mode = cmd.from === 'client' ? (cmd.args[0] ?? '').toUpperCase() : ''
    const reply = cmd.trId !== null && (mode === 'A' || mode === 'S' || mode === 'D') ? encodeCommand({ verb: 'ACK', trId: cmd.trId, args: [] }) : undefined
    return { verdict: 'drop', action: 'block', rule: ownAck ? 'msnscope:own-p2p-ack' : 'msnscope:blocked-p2p', ...(reply !== undefined ? { reply } : {}) }
  }

  #ruleError(view: CommandView, rule: string, error: unknown): PendingEvent {
    this.#errors++
    const e = view.event
    const text = error instanceof Error ? error.message : String(error)
    return {
      kind: 'rule-error', conn: e.conn, transport: e.transport, client: e.client, server: e.server, role: e.role,
      ...(e.account !== undefined ? { account: e.account } : {}), ...(e.dialect !== undefined ? { dialect: e.dialect } : {}),
      ...(e.ts !== '' ? { ts: e.ts } : {}), rule, error: text,
    } as PendingEvent
  }

  #evaluate(lr: LoadedRule, view: CommandView): MaybePromise<Outcome> {
    return chain(lr.test(view), (matched) => matched ? resolveAction(lr.rule.action, view, lr.sequence) : null)
  }

  #run(rules: readonly LoadedRule[], start: number, view: CommandView, ctx: DecisionContext, mem: ConnMemory, tags: string[], tagRule: string | null, events: PendingEvent[]): Decision | Promise<Decision> {
    for (let i = start; i < rules.length; i++) {
      const lr = rules[i]!
      const limit = lr.rule.times
      if (limit !== undefined && (this.#uses.get(lr) ?? 0) >= limit) continue
      let out: MaybePromise<Outcome>
      try { out = this.#evaluate(lr, view) } catch (err) { events.push(this.#ruleError(view, lr.rule.name, err)); continue }
      if (out instanceof Promise) return this.#settle(out, lr, rules, i, view, ctx, mem, tags, tagRule, events)
      if (out === null) continue
      this.#hit(lr)
      if (out.type === 'tag') { tags.push(...out.tags); tagRule = lr.rule.name; continue }
      try { return this.#decision(out, lr.rule.name, view, ctx, mem, tags, events) } catch (err) { events.push(this.#ruleError(view, lr.rule.name, err)) }
    }
    return this.#fallback(view, ctx, mem, tags, tagRule, events)
  }

  async #settle(p: Promise<Outcome>, lr: LoadedRule, rules: readonly LoadedRule[], i: number, view: CommandView, ctx: DecisionContext, mem: ConnMemory, tags: string[], tagRule: string | null, events: PendingEvent[]): Promise<Decision> {
    let cancel: () => void = () => {}
    const timer = new Promise<typeof TIMEOUT>((resolve) => { cancel = this.#clock.after(this.#timeoutMs, () => resolve(TIMEOUT)) })
    const settled = p.then((v) => ({ ok: true as const, v }), (err: unknown) => ({ ok: false as const, err }))
    const r = await Promise.race([settled, timer])
    cancel()
    if (r === TIMEOUT) {
      this.#timeouts++
      events.push(this.#ruleError(view, lr.rule.name, `did not settle within ${this.#timeoutMs} ms; the command gets the default action (${this.#defaultAction})`))
      return this.#defaultDecision(view, ctx, mem, tags, events, 'msnscope:timeout')
    }
    if (!r.ok) {
      events.push(this.#ruleError(view, lr.rule.name, r.err))
      return this.#run(rules, i + 1, view, ctx, mem, tags, tagRule, events)
    }
    const out = r.v
    if (out === null) return this.#run(rules, i + 1, view, ctx, mem, tags, tagRule, events)
    this.#hit(lr)
    if (out.type === 'tag') return this.#run(rules, i + 1, view, ctx, mem, [...tags, ...out.tags], lr.rule.name, events)
    try {
      return this.#decision(out, lr.rule.name, view, ctx, mem, tags, events)
    } catch (err) {
      events.push(this.#ruleError(view, lr.rule.name, err))
      return this.#run(rules, i + 1, view, ctx, mem, tags, tagRule, events)
    }
  }

  #hit(lr: LoadedRule): void {
    this.#uses.set(lr, (this.#uses.get(lr) ?? 0) + 1)
    this.#hits.set(lr.rule.name, (this.#hits.get(lr.rule.name) ?? 0) + 1)
  }

  /** No rule decided: tags if any, else the default action. */
  #fallback(view: CommandView, ctx: DecisionContext, mem: ConnMemory, tags: string[], tagRule: string | null, events: PendingEvent[]): Decision {
    if (this.#defaultAction === 'pass' && tags.length > 0) {
      return { verdict: 'forward', action: 'tag', tags, ...(tagRule !== null ? { rule: tagRule } : {}), ...(events.length > 0 ? { events } : {}) }
    }
    return this.#defaultDecision(view, ctx, mem, tags, events, 'msnscope:default')
  }

  #defaultDecision(view: CommandView, ctx: DecisionContext, mem: ConnMemory, tags: string[], events: PendingEvent[], rule: string): Decision {
    if (this.#defaultAction === 'block') return this.#decision({ type: 'block', answer: true }, rule, view, ctx, mem, tags, events)
    if (tags.length === 0 && events.length === 0) return FORWARD
    return { verdict: 'forward', action: tags.length > 0 ? 'tag' : 'pass', ...(tags.length > 0 ? { tags } : {}), ...(events.length > 0 ? { events } : {}) }
  }

  #decision(out: ResolvedAction, rule: string, view: CommandView, ctx: DecisionContext, mem: ConnMemory, tags: string[], events: PendingEvent[]): Decision {
    const extra = { rule, ...(tags.length > 0 ? { tags } : {}), ...(events.length > 0 ? { events } : {}) }
    switch (out.type) {
      case 'pass': return { verdict: 'forward', action: 'pass', ...extra }
      case 'close': return { verdict: 'close', action: 'close', ...extra }
      case 'rewrite': return { verdict: 'replace', action: 'rewrite', bytes: out.bytes, ...extra }
      case 'inject': {
        const inject = injectBytes(out.items, view, ctx, mem)
        return { verdict: out.original === 'drop' ? 'drop' : 'forward', action: 'inject', inject, ...extra }
      }
      case 'replay': {
        // fresh TrIDs are remembered, so the server's replies to the copies stop here
        const fresh: DecisionContext = { nextClientTrId: () => freshTrId(ctx, mem) }
        const inject = replayInjections(view.event.command, out.times, fresh, { ...(out.to !== undefined ? { to: out.to } : {}), ...(out.sequence !== undefined ? { sequence: out.sequence } : {}) })
        return { verdict: 'forward', action: 'replay', inject, ...extra }
      }
      case 'reject': {
        // a server cannot be answered with an error: refuse it as a block
        if (view.from !== 'client') return this.#block(true, 'reject', view, ctx, mem, extra)
        const reply = rejectAnswer(view, out.code)
        return {
          verdict: out.close ? 'close' : 'drop', action: 'reject', ...extra,
          ...(reply !== null ? { reply } : {}), ...(out.status !== undefined ? { http: { status: out.status } } : {}),
        }
      }
      case 'block': return this.#block(out.answer, 'block', view, ctx, mem, extra)
      case 'tag': return { verdict: 'forward', action: 'tag', ...extra, tags: [...tags, ...out.tags] }
    }
  }

  #block(answer: boolean, action: 'block' | 'reject', view: CommandView, ctx: DecisionContext, mem: ConnMemory, extra: Partial<Decision>): Decision {
    this.#markBlockedP2P(view, mem)
    const a = answer ? blockAnswer(view, mem, ctx) : {}
    const reply = a.reply === undefined || a.reply.length === 0 ? undefined : a.reply.length === 1 ? a.reply[0]! : Buffer.concat(a.reply)
    return {
      verdict: 'drop', action, ...extra,
      ...(reply !== undefined ? { reply } : {}), ...(a.inject !== undefined && a.inject.length > 0 ? { inject: a.inject } : {}),
    }
  }

  /** A blocked P2P message that continues in later chunks: drop those too. */
  #markBlockedP2P(view: CommandView, mem: ConnMemory): void {
    const p = view.payload
    if (view.verb !== 'MSG' || p === null || p.kind !== 'p2p' || p.version !== 1) return
    const h = p.header as { identifier?: number; offset?: number | string; messageSize?: number; totalSize?: number | string } | undefined
    if (h === undefined || typeof h.identifier !== 'number') return
    const end = Number(h.offset ?? 0) + (h.messageSize ?? 0)
    if (end < Number(h.totalSize ?? 0)) mem.blockedP2P(view.from, h.identifier)
  }
}
