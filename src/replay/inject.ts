/**
 * Replay as a rule action: copies of a command (or of a recorded sequence) to send to either
 * side, a number of times, with fresh TrIDs toward the server. Pure: the result is the `inject`
 * list of a Decision (rules/decision.ts), which the transport carries out after the verdict.
 *
 * Toward the server every command that carries a TrID gets a fresh one from the connection
 * (`ctx.nextClientTrId()`), so the server's replies cannot be taken for answers to the client's
 * own commands. Toward the client TrIDs are kept: they refer to the client's own requests.
 */
import { encodeCommand } from '../protocol/encoder.js'
import type { CommandEvent, Side, WireLayout } from '../protocol/events.js'
import type { Decision, DecisionContext } from '../rules/decision.js'
import type { InjectCommand } from '../rules/rule.js'

/** What a replayed command needs: a decoded command, or one from a recording. */
export type ReplayableCommand = Pick<CommandEvent, 'verb' | 'trId' | 'args' | 'payloadRaw'> & { from?: Side; wire?: WireLayout }

export interface ReplayActionOptions {
  /** where the copies go; default: where the command was going (client commands to the server) */
  to?: Side
  /** send this sequence (e.g. from a recording) instead of the matched command */
  sequence?: readonly ReplayableCommand[]
}

/** Upper bound on copies per match, so a rule cannot make the proxy flood a peer. */
export const MAX_REPLAY_TIMES = 100

/** Verbs a client sends without a TrID. */
const NO_TRID = new Set(['PNG', 'OUT'])

const directionOf = (cmd: ReplayableCommand): Side => (cmd.from === 'server' ? 'client' : 'server')

function clampTimes(count: number): number {
  if (!Number.isFinite(count) || count < 1) return 0
  return Math.min(Math.floor(count), MAX_REPLAY_TIMES)
}

/**
 * The `inject` entries that replay `command` (or `options.sequence`) `count` times, with fresh
 * TrIDs toward the server.
 */
export function replayInjections(command: ReplayableCommand, count: number, ctx: DecisionContext, options: ReplayActionOptions = {}): NonNullable<Decision['inject']> {
  const to = options.to ?? directionOf(command)
  const list = options.sequence ?? [command]
  const out: NonNullable<Decision['inject']> = []
  for (let n = clampTimes(count); n > 0; n--) {
    for (const cmd of list) {
      const fresh = to === 'server' && cmd.trId !== null && !NO_TRID.has(cmd.verb)
      const trId = fresh ? ctx.nextClientTrId() : cmd.trId
      out.push({ to, bytes: encodeCommand({ verb: cmd.verb, trId, args: cmd.args, payloadRaw: cmd.payloadRaw, ...(cmd.wire !== undefined ? { wire: cmd.wire } : {}) }) })
    }
  }
  return out
}

/** A whole Decision for a replay rule: the command is forwarded, then the copies are sent. */
export function replayDecision(command: ReplayableCommand, count: number, ctx: DecisionContext, options: ReplayActionOptions & { rule?: string } = {}): Decision {
  const d: Decision = { verdict: 'forward', action: 'replay', inject: replayInjections(command, count, ctx, options) }
  if (options.rule !== undefined) d.rule = options.rule
  return d
}

/**
 * The same copies as commands for the rules' `inject` action, which gives fresh TrIDs toward
 * the server itself. Rules normally use the `replay` action (docs/rules.md); this is for a rule
 * that combines copies with other injected commands.
 *
 * ```ts
 * { name: 'say it twice', match: { verb: 'MSG', from: 'client' },
 *   action: { type: 'inject', to: 'server', commands: (c) => replayInjectCommands(c.event.command, 1) } }
 * ```
 */
export function replayInjectCommands(command: ReplayableCommand, count: number, options: ReplayActionOptions = {}): InjectCommand[] {
  const to = options.to ?? directionOf(command)
  const list = options.sequence ?? [command]
  const out: InjectCommand[] = []
  for (let n = clampTimes(count); n > 0; n--) {
    for (const cmd of list) {
      const base = { verb: cmd.verb, args: [...cmd.args], to, ...(cmd.payloadRaw !== null ? { payload: cmd.payloadRaw } : {}) }
      // toward the server a TrID slot is filled afresh by the engine; otherwise it is kept
      out.push(to === 'server' && cmd.trId !== null && !NO_TRID.has(cmd.verb) ? base : { ...base, trId: cmd.trId })
    }
  }
  return out
}
