/**
 * What a client replay reports: each connection's outcome and every difference between what the
 * live server answered and what was recorded, and the one-line form the CLI prints.
 */
import type { CommandEvent } from '../protocol/events.js'
import { isErrorVerb } from './compare.js'

export type DifferenceKind = 'verb' | 'trId' | 'args' | 'payload' | 'missing' | 'unexpected' | 'error' | 'closed' | 'credentials' | 'connect' | 'stopped'

export interface ReplayDifference {
  recordedConn: string
  liveConn: string | null
  /** recorded seq of the command concerned (null for a live command nothing was recorded for) */
  seq: number | null
  what: DifferenceKind
  detail: string
  expected?: string
  actual?: string
  /** the replay could not go on after it */
  fatal: boolean
}

export interface ConnectionReport {
  recorded: string
  live: string | null
  sent: number
  received: number
  completed: boolean
  reason?: string
}

export interface ReplayReport {
  completed: boolean
  reason: string | null
  connections: ConnectionReport[]
  differences: ReplayDifference[]
}

export interface ReplayRun {
  readonly done: Promise<ReplayReport>
  stop(reason?: string): void
}

/** A command as a difference names it: its verb, or the error it is. */
export function describeReply(cmd: CommandEvent): string {
  if (!isErrorVerb(cmd.verb)) return cmd.verb
  const f = cmd.fields.error as { name?: string; meaning?: string } | undefined
  const name = f?.meaning ?? f?.name
  return `error ${cmd.verb}${name !== undefined ? ` (${name})` : ''}`
}

/** One line for a difference: where, what. */
export function diffText(d: ReplayDifference): string {
  const where = d.seq !== null ? `${d.recordedConn} #${d.seq}` : d.recordedConn
  return `${where}${d.liveConn !== null ? ` (live ${d.liveConn})` : ''}: ${d.what}: ${d.detail}`
}
