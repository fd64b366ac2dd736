/**
 * Replay for the other parts of msnscope (the TUI, rule scripts): re-send one command into a
 * live connection, replay a whole recorded session against a server or into a live connection,
 * and load a recorded sequence for a replay rule.
 */
import type { CommandScopeEvent, ScopeEvent } from '../events.js'
import type { Side } from '../protocol/events.js'
import type { DecisionContext } from '../rules/decision.js'
import { replayClient, type ClientReplayOptions, type ReplayReport, type ReplayRun } from './client.js'
import { replayInjections, type ReplayableCommand } from './inject.js'
import { loadRecording } from './load.js'
import { planReplay } from './plan.js'

/** A live proxied connection msnscope can write into (the proxy's relays are such). */
export interface LiveConnection extends DecisionContext {
  send(to: Side, bytes: Buffer): void
}

/** A connection of the live proxy, found by its `conn` id. */
export function findLiveConnection<R extends LiveConnection & { state: { conn: string }; closed?: boolean }>(relays: Iterable<R>, conn: string): R | null {
  for (const r of relays) if (r.state.conn === conn && r.closed !== true) return r
  return null
}

export type ReplayTarget =
  /** into a live connection: client commands toward its server (or `to`), with fresh TrIDs */
  | { kind: 'connection'; connection: LiveConnection; to?: Side; times?: number }
  /** a full client replay against a server, as `msnscope replay --to` */
  | { kind: 'server'; host: string; port: number; options?: Omit<ClientReplayOptions, 'to'> }

/**
 * Re-send one command into a live connection: toward the side it was going (or `to`), `times`
 * times (default once), with fresh TrIDs toward the server. Returns the bytes sent.
 */
export function resendCommand(event: CommandScopeEvent, target: { connection: LiveConnection; to?: Side; times?: number }): Buffer[] {
  const inject = replayInjections(event.command, target.times ?? 1, target.connection, target.to !== undefined ? { to: target.to } : {})
  for (const i of inject) target.connection.send(i.to, i.bytes)
  return inject.map((i) => i.bytes)
}

/**
 * Replay a recorded session. Against a server it is a client replay of the connection `conn`
 * (default: the connection of the first event) and the connections it referred, or of every
 * connection with `conn: 'all'`; into a live connection, the client commands of that one
 * recorded connection are sent at once. The run's report says what happened.
 */
export function replaySession(events: readonly ScopeEvent[], target: ReplayTarget, options: { conn?: string | 'all' } = {}): ReplayRun {
  const conn = options.conn ?? events.find((e) => e.kind === 'command')?.conn ?? events[0]?.conn
  if (target.kind === 'server') {
    const plan = planReplay(events, conn === undefined || conn === 'all' ? {} : { only: conn })
    return replayClient(plan, { ...target.options, to: { host: target.host, port: target.port } })
  }
  const commands = events.filter((e): e is CommandScopeEvent => e.kind === 'command' && e.command.from === 'client' && (conn === 'all' || e.conn === conn))
  let sent = 0
  for (let n = Math.max(1, target.times ?? 1); n > 0; n--) {
    for (const e of commands) sent += resendCommand(e, { connection: target.connection, ...(target.to !== undefined ? { to: target.to } : {}) }).length
  }
  const report: ReplayReport = {
    completed: true, reason: null, differences: [],
    connections: [{ recorded: conn ?? '-', live: null, sent, received: 0, completed: true }],
  }
  return { done: Promise.resolve(report), stop: () => {} }
}

/**
 * The client commands of one connection of a recording (default: the first that has any), for
 * a replay rule that sends a recorded sequence.
 */
export async function loadReplaySequence(file: string, options: { conn?: string; from?: Side } = {}): Promise<ReplayableCommand[]> {
  const { events } = await loadRecording(file)
  const from = options.from ?? 'client'
  const commands = events.filter((e): e is CommandScopeEvent => e.kind === 'command' && e.command.from === from)
  const conn = options.conn ?? commands[0]?.conn
  return commands.filter((e) => e.conn === conn).map((e) => e.command)
}

/** What the dashboard asks for (the shape of the TUI's ReplayRequest). */
export type DashboardReplayRequest =
  | { kind: 'command'; event: CommandScopeEvent }
  | { kind: 'session'; conn: string; events: readonly ScopeEvent[] }

export interface DashboardReplayOptions {
  /** the live proxy's connections (`TcpProxy.relays`); a command is re-sent into its own connection */
  relays?: Iterable<LiveConnection & { state: { conn: string }; closed?: boolean }>
  /** where a session is replayed: the proxy's own listening address, so the replay shows up live */
  server?: { host: string; port: number } | null
  replayOptions?: Omit<ClientReplayOptions, 'to'>
}

/**
 * The dashboard's `replay` control: a command is re-sent into its live connection (fresh TrID
 * toward the server); a session is replayed as a client against `server`. Resolves with the
 * message to show.
 */
export function dashboardReplay(o: DashboardReplayOptions): (request: DashboardReplayRequest) => Promise<string> {
  return async (request) => {
    if (request.kind === 'command') {
      const ev = request.event
      const live = o.relays === undefined ? null : findLiveConnection(o.relays, ev.conn)
      if (live === null) return `${ev.conn} is not open any more: #${ev.seq} cannot be re-sent into it`
      const [bytes] = resendCommand(ev, { connection: live })
      const line = bytes?.toString('latin1').split('\r\n')[0] ?? ''
      return `re-sent #${ev.seq} to the ${ev.command.from === 'client' ? 'server' : 'client'} of ${ev.conn}: ${line}`
    }
    if (o.server === undefined || o.server === null) return `no server to replay session ${request.conn} against`
    const report = await replaySession(request.events, { kind: 'server', host: o.server.host, port: o.server.port, ...(o.replayOptions !== undefined ? { options: o.replayOptions } : {}) }, { conn: request.conn }).done
    const n = report.differences.length
    return `replay of ${request.conn}: ${report.completed ? 'completed' : `not completed (${report.reason ?? 'stopped'})`}, ${n} difference${n === 1 ? '' : 's'}`
  }
}
