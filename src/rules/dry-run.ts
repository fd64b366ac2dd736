/**
 * Rules over a capture (`msnscope read FILE --rules …`): every command event is decided as the
 * live proxy would decide it, but nothing is sent anywhere. An event a rule acts on carries the
 * rule's name, the action and, after a rewrite, the bytes it would be forwarded as; the dry run
 * also remembers each one for a report with the hit counts per rule. Events keep their order
 * even when an asynchronous rule makes a decision wait.
 */
import type { CommandScopeEvent, EventSink, ScopeEvent, StatsEvent } from '../events.js'
import { MsnpDecoder } from '../protocol/decoder.js'
import type { CommandEvent } from '../protocol/events.js'
import { FORWARD, type Decision, type DecisionContext } from './decision.js'
import type { RuleEngine } from './engine.js'
import { messageText } from './view.js'

/** One command a rule acted on. */
export interface DryRunHit {
  seq: number
  conn: string
  from: string
  verb: string
  /** the command line as it arrived */
  line: string
  action: string
  rule: string
  /** the command line as it would be forwarded after a rewrite */
  forwarded?: string
  /** the message text it would carry after a rewrite, for a message */
  forwardedText?: string
  /** what the sender would have been answered (first line of each reply) */
  reply?: string[]
  /** the first line of each injected command, with its direction */
  inject?: string[]
}

const MAX_HITS = 1000

/** The first line of some MSNP bytes, printable. */
export function firstLine(bytes: Buffer): string {
  const lf = bytes.indexOf(0x0a)
  return bytes.toString('utf8', 0, lf < 0 ? Math.min(bytes.length, 200) : lf).replace(/\r$/, '')
}

/** Every command line in some MSNP bytes (replies and injections may hold several). */
function lines(bytes: Buffer, from: 'client' | 'server'): string[] {
  const d = new MsnpDecoder(from, { decode: false })
  return [...d.push(bytes), ...d.end()].map((e) => firstLine(e.raw))
}

/** The forwarded bytes of a rewrite decoded as a command (for displays). */
export function decodeForwarded(bytes: Buffer, from: 'client' | 'server', dialect: number | null): CommandEvent | null {
  const d = new MsnpDecoder(from, { dialect })
  const ev = [...d.push(bytes), ...d.end()][0]
  return ev !== undefined && ev.kind === 'command' ? ev : null
}

export class DryRun {
  readonly hits: DryRunHit[] = []
  #omitted = 0
  #queue: Promise<void> = Promise.resolve()
  #waiting = 0
  readonly #trIds = new Map<string, number>()
  /** events are numbered again on the way out: rule-error events join the stream */
  #seq = 0
  #lastTs = ''

  constructor(readonly engine: RuleEngine, readonly next: EventSink) {}

  /** Give events here; they reach `next` decided, in order. */
  readonly sink: EventSink = (ev) => {
    if (ev.ts !== '') this.#lastTs = ev.ts
    this.engine.observe(ev)
    if (ev.kind !== 'command') return this.#pass(ev)
    const d = this.engine.decide(ev, this.#ctx(ev))
    if (this.#waiting === 0 && !(d instanceof Promise)) return this.#emit(ev, d)
    this.#waiting++
    this.#queue = this.#queue.then(async () => {
      try { this.#emit(ev, await d) } catch { this.#emit(ev, FORWARD) } finally { this.#waiting-- }
    })
  }

  /** Resolves when every pending decision has been made and passed on. */
  drain(): Promise<void> { return this.#queue }

  /** The rule counters as a `stats` event numbered after the last event passed on (call it once, at the end). */
  finalStats(): StatsEvent {
    return { ...this.engine.statsEvent(), seq: ++this.#seq, ts: this.#lastTs }
  }

  #pass(ev: ScopeEvent): void {
    if (this.#waiting === 0) { this.#out(ev); return }
    this.#waiting++
    this.#queue = this.#queue.then(() => { this.#waiting--; this.#out(ev) })
  }

  /** TrIDs for commands a rule would inject toward the server: above any the capture used. */
  #ctx(ev: CommandScopeEvent): DecisionContext {
    const t = ev.command.trId
    if (ev.command.from === 'client' && t !== null && t > (this.#trIds.get(ev.conn) ?? 0)) this.#trIds.set(ev.conn, t)
    return { nextClientTrId: () => { const n = (this.#trIds.get(ev.conn) ?? 0) + 1; this.#trIds.set(ev.conn, n); return n + 1000 } }
  }

  #emit(ev: CommandScopeEvent, d: Decision): void {
    for (const extra of d.events ?? []) {
      const e = extra as ScopeEvent
      if (e.ts === undefined || e.ts === '') (e as { ts: string }).ts = ev.ts
      this.#out(e)
    }
    if (d !== FORWARD) {
      ev.action = d.action
      if (d.rule !== undefined) ev.rule = d.rule
      if (d.tags !== undefined) ev.tags = d.tags
      if (d.verdict === 'replace' && d.bytes !== undefined) ev.forwarded = d.bytes
    }
    this.#out(ev)
    if (d !== FORWARD && ((d.rule !== undefined && !d.rule.startsWith('msnscope:')) || d.action !== 'pass')) this.#record(ev, d)
  }

  #out(ev: ScopeEvent): void {
    ev.seq = ++this.#seq
    this.next(ev)
  }

  #record(ev: CommandScopeEvent, d: Decision): void {
    if (this.hits.length >= MAX_HITS) { this.#omitted++; return }
    const c = ev.command
    const other = c.from === 'client' ? 'server' : 'client'
    const hit: DryRunHit = { seq: ev.seq, conn: ev.conn, from: c.from, verb: c.verb, line: firstLine(c.raw), action: d.action, rule: d.rule ?? '(default)' }
    if (d.verdict === 'replace' && d.bytes !== undefined) {
      hit.forwarded = firstLine(d.bytes)
      const text = messageText(decodeForwarded(d.bytes, c.from, c.dialect)?.payload ?? null)
      if (text !== null) hit.forwardedText = text
    }
    if (d.reply !== undefined) hit.reply = lines(d.reply, other)
    if (d.inject !== undefined && d.inject.length > 0) hit.inject = d.inject.flatMap((i) => lines(i.bytes, i.to === 'server' ? 'client' : 'server').map((l) => `${i.to === 'server' ? '→ server' : '→ client'}: ${l}`))
    this.hits.push(hit)
  }

  /** A plain-text report: what each rule did, then the hit counts. */
  render(): string {
    const out: string[] = ['', 'Rules (dry run: nothing was sent)']
    if (this.hits.length === 0) out.push('  no rule acted on any command')
    for (const h of this.hits) {
      out.push(`  #${h.seq} ${h.conn} ${h.from === 'client' ? 'C>S' : 'S>C'} ${h.line}`)
      out.push(`      ${h.action} by "${h.rule}"${h.forwarded !== undefined ? `, forwarded as: ${h.forwarded}` : ''}`)
      if (h.forwardedText !== undefined) out.push(`      with the text: ${JSON.stringify(h.forwardedText.length > 200 ? h.forwardedText.slice(0, 200) + '…' : h.forwardedText)}`)
      for (const r of h.reply ?? []) out.push(`      answered: ${r}`)
      for (const i of h.inject ?? []) out.push(`      injected ${i}`)
    }
    if (this.#omitted > 0) out.push(`  … and ${this.#omitted} more`)
    out.push('', 'Rule hits')
    for (const [k, v] of Object.entries(this.engine.counters())) out.push(`  ${k.padEnd(40)} ${v}`)
    return out.join('\n') + '\n'
  }
}
