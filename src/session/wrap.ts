/** Wraps decoder events with where they happened (connection, endpoints, role, time, sequence). */
import type { EventBase, ScopeEvent } from '../events.js'
import type { MsnpEvent } from '../protocol/events.js'
import type { ConnState } from './tracker.js'

/** Numbers events 1, 2, 3 … per run. */
export class Sequencer {
  #n = 0
  next(): number { return ++this.#n }
  get last(): number { return this.#n }
}

export function eventBase(state: ConnState, seq: number, ts: string): EventBase {
  return {
    seq, ts, conn: state.conn, transport: state.transport, client: state.client, server: state.server,
    role: state.role, account: state.account, dialect: state.dialectState.dialect,
  }
}

/** A decoder event as a pipeline event; commands pass unless a rule says otherwise. */
export function wrapDecoderEvent(state: ConnState, ev: MsnpEvent, seq: number, ts: string): ScopeEvent {
  const base = eventBase(state, seq, ts)
  if (ev.kind === 'command') return { ...base, kind: 'command', command: ev, action: 'pass' }
  return { ...base, kind: 'malformed', from: ev.from, code: ev.code, reason: ev.reason, raw: ev.raw }
}
