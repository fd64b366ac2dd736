/**
 * The decision point shared by every live transport (TCP proxy, HTTP gateway): for each decoded
 * command, what to do with it. Rules (rules/) produce decisions; transports carry them out.
 * Pure types and a pass-through decider.
 */
import type { CommandScopeEvent, ScopeEvent } from '../events.js'

/**
 * - forward: send the command on unchanged (its exact bytes);
 * - drop: do not send it (block);
 * - replace: send these bytes instead (rewrite);
 * - close: end the connection (both sides).
 * `reply` is sent back to the sender (a reject, a NAK, a decline); `inject` goes to either side.
 */
export interface Decision {
  verdict: 'forward' | 'drop' | 'replace' | 'close'
  /** with 'replace': the bytes to send instead */
  bytes?: Buffer
  /** answer the sender (e.g. an MSNP error) */
  reply?: Buffer
  /** extra commands: to the client or to the server, after the verdict is carried out */
  inject?: { to: 'client' | 'server'; bytes: Buffer }[]
  /** how the event is labelled */
  action: CommandScopeEvent['action']
  rule?: string
  tags?: string[]
  /** events the decider wants emitted (rule-error, …) */
  events?: Omit<ScopeEvent, 'seq'>[]
  /**
   * HTTP gateway only: answer the whole request with this HTTP status (and no body) instead of
   * forwarding it; `reply` is then not sent. TCP transports ignore it and send `reply`.
   */
  http?: { status: number }
}

export interface DecisionContext {
  /** the next free TrID toward the server on this connection, for injected commands */
  nextClientTrId(): number
}

/** Decides for each command; may be asynchronous (rule scripts with a timeout). */
export type Decider = (event: CommandScopeEvent, ctx: DecisionContext) => Decision | Promise<Decision>

export const FORWARD: Decision = Object.freeze({ verdict: 'forward', action: 'pass' }) as Decision

export const passThrough: Decider = () => FORWARD

/** Labels a command event with what a decision did to it (both transports emit it afterwards). */
export function labelDecided(event: CommandScopeEvent, d: Decision): void {
  if (d === FORWARD) return
  event.action = d.action
  if (d.rule !== undefined) event.rule = d.rule
  if (d.tags !== undefined) event.tags = d.tags
  if (d.verdict === 'replace' && d.bytes !== undefined) event.forwarded = d.bytes
  if (d.verdict === 'drop') delete event.forwarded
}

/**
 * TrIDs for commands msnscope sends to a server on a client's behalf: above anything the client
 * has used so far, with room, so that the server's replies to them can be told apart.
 */
export class InjectedTrIds {
  #max = 0
  #n = 0
  /** note a TrID the client used */
  seen(trId: number | null): void { if (trId !== null && trId > this.#max) this.#max = trId }
  next(): number { return this.#max + 1000 + ++this.#n }
}
