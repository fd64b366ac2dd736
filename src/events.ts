/**
 * The events every source (live TCP, HTTP gateway, capture import) produces and every sink (JSON
 * lines, console, TUI, pcap export, transcript) consumes. A decoder event (protocol/events.ts) is
 * wrapped with where it happened: connection, endpoints, role, time, sequence number.
 * sinks/json.ts turns these into the JSON lines of the stable schema (docs/events.md).
 */
import type { CommandEvent, MalformedCode, Role, Side } from './protocol/events.js'

export type Transport = 'tcp' | 'http'

export type Action = 'pass' | 'block' | 'reject' | 'rewrite' | 'inject' | 'close' | 'replay' | 'tag'

export interface EventBase {
  seq: number
  /** ISO 8601: capture time for pcap input, wall time live */
  ts: string
  /** `c1`, `c2` … in order of each connection's first byte */
  conn: string
  transport: Transport
  client: string | null
  server: string | null
  role: Role
  /** the account signed in on this connection (or its notification session), when known */
  account?: string | null
  dialect?: number | null
}

export interface CommandScopeEvent extends EventBase {
  kind: 'command'
  command: CommandEvent
  action: Action
  rule?: string
  /** the bytes actually forwarded when a rule changed the command (rewrite), or injected */
  forwarded?: Buffer
  tags?: string[]
}

export interface MalformedScopeEvent extends EventBase {
  kind: 'malformed'
  from: Side
  code: MalformedCode
  reason: string
  raw: Buffer
}

export interface SessionOpenEvent extends EventBase {
  kind: 'session-open'
  /** the connection whose XFR or RNG led here */
  parent?: string
  via?: 'XFR' | 'RNG' | 'CKI'
  /** true when the capture holds no handshake for this connection */
  midStream?: boolean
}

export interface SessionCloseEvent extends EventBase {
  kind: 'session-close'
  reason: string
  bytes?: { client: number; server: number }
}

export interface GapEvent extends EventBase {
  kind: 'gap'
  from: Side
  bytes: number
  reason?: string
}

export interface HttpEvent extends EventBase {
  kind: 'http'
  from: Side
  method?: string
  url?: string
  status?: number
  action?: string
  sessionId?: string
  gwIp?: string
  sessionClose?: boolean
  bodyLength: number
  note?: string
}

export interface RedirectEvent extends EventBase {
  kind: 'redirect'
  verb: string
  /** the address the server gave */
  real: string
  /** the address handed to the client, or null when left alone */
  handedOut: string | null
  note?: string
}

export interface LimitEvent extends EventBase {
  kind: 'limit'
  limit: string
  detail: string
}

export interface RuleErrorEvent extends EventBase {
  kind: 'rule-error'
  rule: string
  error: string
}

export interface ReplayDiffEvent extends EventBase {
  kind: 'replay-diff'
  detail: string
  expected?: string
  actual?: string
}

export interface UnmatchedEvent extends EventBase {
  kind: 'unmatched'
  detail: string
}

export interface StatsEvent extends EventBase {
  kind: 'stats'
  counters: Record<string, number>
}

export type ScopeEvent =
  | CommandScopeEvent
  | MalformedScopeEvent
  | SessionOpenEvent
  | SessionCloseEvent
  | GapEvent
  | HttpEvent
  | RedirectEvent
  | LimitEvent
  | RuleErrorEvent
  | ReplayDiffEvent
  | UnmatchedEvent
  | StatsEvent

export type ScopeEventKind = ScopeEvent['kind']

/** Something that takes events: a JSON-lines writer, the console, the TUI, a test. */
export type EventSink = (event: ScopeEvent) => void
