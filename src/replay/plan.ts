/**
 * Replay planning: a recording (the events of a capture or a saved JSONL file) becomes the list
 * of connections to replay, each with the commands its client sent (in order, with the TrIDs
 * they will carry on the wire) and the server commands expected after each of them.
 *
 * Pure: no I/O, no clock. The same plan drives the client replay (client.ts: send the client
 * side to a live server), the server replay (server.ts: answer a live client with the server
 * side) and `--dry-run`. A plan never throws on odd recordings: what cannot be replayed is left
 * out with a note.
 */
import { MsnpDecoder } from '../protocol/decoder.js'
import type { CommandEvent, Role } from '../protocol/events.js'
import type { CommandScopeEvent, ScopeEvent } from '../events.js'

/** What has to change in a recorded client command before it is sent again. */
export type Substitution =
  /** first command of a referred switchboard: the cookie (and session id) of the live XFR/RNG */
  | 'sb-cookie'
  /** `USR t MD5 S <hash>`: recomputed from the live salt and the password */
  | 'md5-login'
  /** `USR t TWN S <ticket>`: a ticket from the options or from the login server */
  | 'twn-ticket'
  /** `USR t SSO S <ticket> <MBI response> [guid]`: ticket and response from the options or a login */
  | 'sso-login'
  /** `QRY`: answered afresh to the live CHL */
  | 'qry'

export interface PlannedSend {
  kind: 'send'
  /** position among this connection's sends */
  index: number
  /** position among all sends of the plan, in recording order */
  order: number
  seq: number
  ts: string
  /** recording time in ms (NaN when the recording has no usable time) */
  tsMs: number
  command: CommandEvent
  /** the TrID it will carry when everything goes as recorded (renumbered from 1 per connection) */
  liveTrId: number | null
  substitution?: Substitution
}

export interface PlannedExpect {
  kind: 'expect'
  /** position among this connection's expected commands */
  index: number
  seq: number
  ts: string
  tsMs: number
  command: CommandEvent
  /** index of the send it follows; -1 when the server spoke first */
  after: number
  /** index of the send whose TrID it carries (a reply), null for unsolicited commands */
  replyTo: number | null
  /**
   * a reply to a command the recording does not hold (one msnscope injected, or one sent before
   * a capture began): not waited for, and not served
   */
  optional: boolean
}

export type Opener =
  | { kind: 'connect' }
  /** opened after the live counterpart of `parent`'s expected command `expect` (an XFR or RNG) */
  | { kind: 'referral'; parent: string; via: 'XFR' | 'RNG'; expect: number }

export interface PlannedConnection {
  /** the recorded connection id */
  conn: string
  role: Role
  account: string | null
  dialect: number | null
  client: string | null
  server: string | null
  opener: Opener
  sends: PlannedSend[]
  expects: PlannedExpect[]
  /** who ended the recorded connection, when the recording says */
  closedBy: 'client' | 'server' | 'unknown'
  /** when the client ended the recorded connection: its place in the order of sends */
  clientClose: { seq: number; ts: string; tsMs: number; order: number } | null
  /** switchboard cookie and session id used by the recorded connection */
  cookie?: string
  sessionId?: string
  notes: string[]
}

export interface ReplayPlan {
  connections: PlannedConnection[]
  /** the product id of the recording's QRY commands, when there is one */
  productId: string | null
  /** connections of the recording that are not replayed, and why */
  skipped: { conn: string; reason: string }[]
  /** number of ordered client steps (sends and client closes) across all connections */
  steps: number
}

/** A credential for every account, or per account (keys are account names, any case). */
export type Secret = string | Readonly<Record<string, string>>

/** The credential for `account`. */
export function secretFor(secret: Secret | undefined, account: string | null): string | undefined {
  if (secret === undefined || typeof secret === 'string') return secret
  if (account === null) return undefined
  const want = account.toLowerCase()
  for (const [k, v] of Object.entries(secret)) if (k.toLowerCase() === want) return v
  return undefined
}

/** `fast`: as fast as replies come; `recorded`: the recording's pacing; a number: that many times faster. */
export type Speed = 'fast' | 'recorded' | number

/** How long to wait before a step recorded `recordedGapMs` after the previous one. */
export function paceDelay(speed: Speed, recordedGapMs: number): number {
  if (speed === 'fast' || !Number.isFinite(recordedGapMs) || recordedGapMs <= 0) return 0
  const factor = speed === 'recorded' ? 1 : speed
  return factor > 0 ? recordedGapMs / factor : 0
}

export interface PlanOptions {
  /** replay only this recorded connection and the connections it referred */
  only?: string
}

const AUTH = new Set(['MD5', 'TWN', 'SSO', 'SHA', 'CTP'])

interface Gathered {
  conn: string
  role: Role
  account: string | null
  dialect: number | null
  client: string | null
  server: string | null
  parent?: string
  via?: 'XFR' | 'RNG' | 'CKI'
  commands: { seq: number; ts: string; command: CommandEvent }[]
  /** client commands a rule kept from the server (not replayed) */
  dropped: number
  closeReason: string | null
  closeSeq: number
  closeTs: string
  firstSeq: number
}

const timeOf = (ts: string): number => Date.parse(ts)

/** The cookie (and session id) a switchboard connection's first client command carries. */
export function switchboardLogin(cmd: CommandEvent): { cookie: string; sessionId?: string; verb: 'USR' | 'ANS' } | null {
  if (cmd.from !== 'client') return null
  const a = cmd.args
  if (cmd.verb === 'USR' && a.length === 2 && !AUTH.has(a[0]!) && a[0]!.includes('@')) return { cookie: a[1]!, verb: 'USR' }
  if (cmd.verb === 'ANS' && a.length >= 3) return { cookie: a[1]!, sessionId: a[2]!, verb: 'ANS' }
  return null
}

/** The address and cookie a referral (XFR NS, XFR SB, RNG) carries, or null for other commands. */
export function referralOf(cmd: CommandEvent): { kind: 'NS' | 'SB'; via: 'XFR' | 'RNG'; target: string; cookie?: string; sessionId?: string } | null {
  if (cmd.from !== 'server') return null
  const a = cmd.args
  if (cmd.verb === 'XFR' && a[0] === 'NS' && a[1] !== undefined && a[1] !== '0') return { kind: 'NS', via: 'XFR', target: a[1] }
  if (cmd.verb === 'XFR' && a[0] === 'SB' && a[1] !== undefined && a[2] === 'CKI' && a[3] !== undefined) return { kind: 'SB', via: 'XFR', target: a[1], cookie: a[3] }
  if (cmd.verb === 'RNG' && a.length >= 4 && a[2] === 'CKI') return { kind: 'SB', via: 'RNG', target: a[1]!, cookie: a[3]!, sessionId: a[0]! }
  return null
}

function substitutionFor(cmd: CommandEvent, first: boolean): Substitution | undefined {
  const a = cmd.args
  if (first && switchboardLogin(cmd) !== null) return 'sb-cookie'
  if (cmd.verb === 'QRY') return 'qry'
  if (cmd.verb === 'USR' && a[1] === 'S') {
    if (a[0] === 'MD5') return 'md5-login'
    if (a[0] === 'TWN') return 'twn-ticket'
    if (a[0] === 'SSO') return 'sso-login'
  }
  return undefined
}

function gather(events: readonly ScopeEvent[]): Map<string, Gathered> {
  const conns = new Map<string, Gathered>()
  const get = (ev: ScopeEvent): Gathered => {
    let g = conns.get(ev.conn)
    if (g === undefined) {
      g = { conn: ev.conn, role: '?', account: null, dialect: null, client: ev.client, server: ev.server, commands: [], dropped: 0, closeReason: null, closeSeq: 0, closeTs: '', firstSeq: ev.seq }
      conns.set(ev.conn, g)
    }
    if (ev.role !== '?') g.role = ev.role
    if (ev.account !== undefined && ev.account !== null) g.account = ev.account
    if (ev.dialect !== undefined && ev.dialect !== null) g.dialect = ev.dialect
    g.client ??= ev.client
    g.server ??= ev.server
    return g
  }
  const ordered = [...events].sort((x, y) => x.seq - y.seq)
  for (const ev of ordered) {
    switch (ev.kind) {
      case 'session-open': {
        const g = get(ev)
        if (ev.parent !== undefined) g.parent = ev.parent
        if (ev.via !== undefined) g.via = ev.via
        break
      }
      case 'command': {
        const g = get(ev)
        const command = asSent(ev)
        if (command === null) g.dropped++
        else g.commands.push({ seq: ev.seq, ts: ev.ts, command })
        break
      }
      case 'session-close': {
        const g = get(ev)
        g.closeReason = ev.reason
        g.closeSeq = ev.seq
        g.closeTs = ev.ts
        break
      }
      default: break
    }
  }
  return conns
}

/**
 * A recorded client command as the server received it: commands a rule blocked never reached
 * it (null), rewritten ones reached it as their `forwarded` bytes.
 */
function asSent(ev: CommandScopeEvent): CommandEvent | null {
  const cmd = ev.command
  if (cmd.from !== 'client') return cmd
  if (ev.action === 'block' || ev.action === 'reject' || ev.action === 'close') return null
  if (ev.action !== 'rewrite' || ev.forwarded === undefined) return cmd
  const [again] = new MsnpDecoder('client', { dialect: cmd.dialect }).push(ev.forwarded)
  return again !== undefined && again.kind === 'command' && again.raw.length === ev.forwarded.length ? again : cmd
}

/** Build the plan of a recording. */
export function planReplay(events: readonly ScopeEvent[], options: PlanOptions = {}): ReplayPlan {
  const gathered = gather(events)
  const skipped: ReplayPlan['skipped'] = []
  const connections: PlannedConnection[] = []
  let productId: string | null = null

  for (const g of gathered.values()) {
    if (g.conn === '-' ) continue
    const sends: PlannedSend[] = []
    const expects: PlannedExpect[] = []
    let nextTrId = 1
    for (const { seq, ts, command } of g.commands) {
      if (command.from === 'client') {
        const liveTrId = command.trId === null ? null : nextTrId++
        const send: PlannedSend = { kind: 'send', index: sends.length, order: 0, seq, ts, tsMs: timeOf(ts), command, liveTrId }
        const sub = substitutionFor(command, sends.length === 0)
        if (sub !== undefined) send.substitution = sub
        if (command.verb === 'QRY' && productId === null && command.args[0] !== undefined) productId = command.args[0]
        sends.push(send)
      } else {
        let replyTo: number | null = null
        if (command.trId !== null && command.trId !== 0) {
          for (let j = sends.length - 1; j >= 0; j--) if (sends[j]!.command.trId === command.trId) { replyTo = j; break }
        }
        const optional = replyTo === null && command.trId !== null && command.trId !== 0
        expects.push({ kind: 'expect', index: expects.length, seq, ts, tsMs: timeOf(ts), command, after: sends.length - 1, replyTo, optional })
      }
    }
    if (sends.length === 0) {
      skipped.push({ conn: g.conn, reason: 'the recording holds no client command for it' })
      continue
    }
    const pc: PlannedConnection = {
      conn: g.conn, role: g.role, account: g.account, dialect: g.dialect, client: g.client, server: g.server,
      opener: { kind: 'connect' }, sends, expects, closedBy: closedBy(g), clientClose: null, notes: [],
    }
    if (g.dropped > 0) pc.notes.push(`${g.dropped} client command${g.dropped === 1 ? '' : 's'} blocked by a rule in the recording ${g.dropped === 1 ? 'is' : 'are'} not replayed`)
    if (pc.closedBy === 'client') pc.clientClose = { seq: g.closeSeq, ts: g.closeTs, tsMs: timeOf(g.closeTs), order: 0 }
    const login = switchboardLogin(sends[0]!.command)
    if (login !== null) {
      pc.cookie = login.cookie
      if (login.sessionId !== undefined) pc.sessionId = login.sessionId
      if (pc.role === '?') pc.role = 'SB'
    }
    connections.push(pc)
  }

  linkReferrals(connections, gathered)
  let kept = connections
  if (options.only !== undefined) {
    const only = options.only
    const root = connections.find((c) => c.conn === only)
    if (root === undefined) {
      const why = gathered.has(only) ? 'it has no client commands to replay' : 'no such connection in the recording'
      return { connections: [], productId, skipped: [...skipped, { conn: only, reason: why }], steps: 0 }
    }
    const keep = new Set([only])
    for (let grew = true; grew;) {
      grew = false
      for (const c of connections) {
        if (c.opener.kind === 'referral' && keep.has(c.opener.parent) && !keep.has(c.conn)) { keep.add(c.conn); grew = true }
      }
    }
    kept = connections.filter((c) => keep.has(c.conn))
    for (const c of connections) if (!keep.has(c.conn)) skipped.push({ conn: c.conn, reason: `not part of --only ${only}` })
    if (root.opener.kind === 'referral') {
      root.notes.push(`opened directly: the connection that referred it (${root.opener.parent}) is not replayed, so the recorded cookie is used`)
      root.opener = { kind: 'connect' }
      const first = root.sends[0]
      if (first?.substitution === 'sb-cookie') delete first.substitution
    }
  }

  const all: { seq: number; order: number }[] = kept.flatMap((c) => c.clientClose === null ? c.sends : [...c.sends, c.clientClose])
  all.sort((x, y) => x.seq - y.seq).forEach((s, i) => { s.order = i })
  for (const c of kept) {
    const first = c.sends[0]
    if (c.opener.kind === 'connect' && first?.substitution === 'sb-cookie') delete first.substitution
  }
  return { connections: kept, productId, skipped, steps: all.length }
}

function closedBy(g: Gathered): PlannedConnection['closedBy'] {
  const r = g.closeReason
  if (r === null) return 'unknown'
  if (/client/i.test(r)) return 'client'
  if (/server|upstream/i.test(r)) return 'server'
  return 'unknown'
}

/** Tie each referred connection to the XFR or RNG that announced it. */
function linkReferrals(connections: PlannedConnection[], gathered: Map<string, Gathered>): void {
  const byConn = new Map(connections.map((c) => [c.conn, c]))
  const used = new Set<string>()
  type Ref = Extract<Opener, { kind: 'referral' }>
  /** The first unused referral matching `pred`, looking in `parent` first (or only there). */
  const find = (pred: (ref: NonNullable<ReturnType<typeof referralOf>>) => boolean, parent: string | undefined, onlyParent = false): Ref | null => {
    const first = parent === undefined ? undefined : byConn.get(parent)
    const order = first === undefined ? (onlyParent ? [] : connections) : onlyParent ? [first] : [first, ...connections.filter((c) => c !== first)]
    for (const p of order) {
      for (const e of p.expects) {
        const ref = referralOf(e.command)
        const key = `${p.conn}/${e.index}`
        if (ref === null || used.has(key) || !pred(ref)) continue
        used.add(key)
        return { kind: 'referral', parent: p.conn, via: ref.via, expect: e.index }
      }
    }
    return null
  }
  const sorted = [...connections].sort((x, y) => (gathered.get(x.conn)?.firstSeq ?? 0) - (gathered.get(y.conn)?.firstSeq ?? 0))
  for (const c of sorted) {
    const g = gathered.get(c.conn)
    let opener: Ref | null = null
    if (c.cookie !== undefined) {
      const cookie = c.cookie
      opener = find((r) => r.kind === 'SB' && r.cookie === cookie, g?.parent)
    } else if (c.server !== null || g?.parent !== undefined) {
      const server = c.server
      opener = find((r) => r.kind === 'NS' && r.target === server, g?.parent)
      // through a proxy the recorded server may not be the referral's address: trust the parent link
      if (opener === null && g?.parent !== undefined) opener = find((r) => r.kind === 'NS', g.parent, true)
    }
    if (opener !== null && opener.parent !== c.conn) {
      c.opener = opener
      if (c.role === '?') c.role = referralOf(byConn.get(opener.parent)!.expects[opener.expect]!.command)!.kind
    } else if (g?.parent !== undefined) {
      c.notes.push(`referred by ${g.parent}, but its XFR/RNG is not in the recording: connects to the replay target`)
    }
  }
}

/** The account a connection logs in with (`USR x I <account>`), else the one the recording names. */
export function loginAccount(p: PlannedConnection): string | null {
  for (const s of p.sends) {
    const a = s.command.args
    if (s.command.verb === 'USR' && a[1] === 'I' && a[2] !== undefined) return a[2]
  }
  return p.account
}

/** Argument positions of a command that hold credentials or cookies. */
export function secretArgs(cmd: Pick<CommandEvent, 'verb' | 'args' | 'from'>): number[] {
  const a = cmd.args
  if (cmd.from === 'client') {
    if (cmd.verb === 'USR' && AUTH.has(a[0] ?? '') && (a[1] === 'S' || a[1] === 'A')) return a.map((_, i) => i).filter((i) => i >= 2 && !a[i]!.startsWith('{'))
    if (cmd.verb === 'USR' && a.length === 2 && !AUTH.has(a[0]!)) return [1]
    if (cmd.verb === 'ANS' && a.length >= 3) return [1]
    return []
  }
  if ((cmd.verb === 'XFR' && a[0] === 'SB' && a[2] === 'CKI') || (cmd.verb === 'RNG' && a[2] === 'CKI')) return [3]
  return []
}

/**
 * The first line of a command as text, the payload shown by its length, for reports. Passwords
 * hashes, tickets and cookies are shown as `***` unless `secrets` is true.
 */
export function commandLine(cmd: Pick<CommandEvent, 'verb' | 'trId' | 'args' | 'payloadRaw' | 'from'>, trId: number | null = cmd.trId, secrets = false): string {
  const hide = secrets ? [] : secretArgs(cmd)
  const parts = [cmd.verb]
  if (trId !== null) parts.push(String(trId))
  cmd.args.forEach((a, i) => parts.push(hide.includes(i) ? '***' : a))
  if (cmd.payloadRaw !== null) parts.push(String(cmd.payloadRaw.length))
  return parts.join(' ')
}
