/**
 * The connection tree the dashboard shows: per account, the dispatch connection, the notification
 * session it referred to, and the switchboards that session opened, each with its role, dialect
 * and state (negotiating, signed in, status, in chat with whom, closed and why). Built from events
 * alone; connections seen without a session-open (a capture that starts mid-stream) appear on
 * their first event. Bounded: past `maxConns` the oldest closed connections are forgotten.
 */
import type { ScopeEvent } from '../events.js'

export interface ConnNode {
  conn: string
  transport: 'tcp' | 'http'
  client: string | null
  server: string | null
  role: ScopeEvent['role']
  account: string | null
  dialect: number | null
  parent?: string
  via?: string
  midStream?: boolean
  open: boolean
  closeReason?: string
  /** what the connection is doing: negotiating, authenticating, signed in, online, in chat … */
  state: string
  /** switchboard participants other than the account */
  participants: Set<string>
  events: number
  bytes: number
  /** store index of its first event */
  firstIndex: number
  children: string[]
}

export interface TreeRow {
  /** null for an account heading */
  conn: string | null
  account: string
  depth: number
  /** tree glyphs before the node */
  prefix: string
}

const STATUS: Record<string, string> = { NLN: 'online', BSY: 'busy', IDL: 'idle', BRB: 'be right back', AWY: 'away', PHN: 'on the phone', LUN: 'out to lunch', HDN: 'appear offline', FLN: 'offline' }
/** a switchboard's participants kept for display (a chat room rarely has more) */
const MAX_PARTICIPANTS = 50
const bareAccount = (a: string): string => a.replace(/^\d+:/, '').replace(/;.*$/, '')

export class ConnTable {
  readonly #nodes = new Map<string, ConnNode>()
  readonly #maxConns: number
  #open = 0
  #rows: TreeRow[] | null = null
  /** called with the ids of connections that were forgotten */
  onForget: ((conns: string[]) => void) | null = null

  constructor(maxConns = 5000) { this.#maxConns = maxConns }

  get size(): number { return this.#nodes.size }
  get openCount(): number { return this.#open }
  get(conn: string): ConnNode | undefined { return this.#nodes.get(conn) }

  #node(ev: ScopeEvent, index: number): ConnNode {
    let n = this.#nodes.get(ev.conn)
    if (n === undefined) {
      n = {
        conn: ev.conn, transport: ev.transport, client: ev.client, server: ev.server, role: ev.role,
        account: ev.account ?? null, dialect: ev.dialect ?? null, open: true, state: 'open',
        participants: new Set(), events: 0, bytes: 0, firstIndex: index, children: [],
      }
      this.#nodes.set(ev.conn, n)
      this.#open++
      this.#rows = null
      if (this.#nodes.size > this.#maxConns) this.#prune()
    }
    return n
  }

  /** Learn from one event (stored at `index`). */
  add(ev: ScopeEvent, index: number): void {
    if (ev.kind === 'stats') return
    const n = this.#node(ev, index)
    n.events++
    if (ev.role !== '?' && ev.role !== n.role) { n.role = ev.role; this.#rows = null }
    if (ev.account != null && ev.account !== n.account) { n.account = ev.account; this.#rows = null }
    if (ev.dialect != null) n.dialect = ev.dialect
    switch (ev.kind) {
      case 'session-open':
        if (ev.parent !== undefined && n.parent === undefined) {
          n.parent = ev.parent
          if (ev.via !== undefined) n.via = ev.via
          const p = this.#nodes.get(ev.parent)
          if (p !== undefined) {
            p.children.push(n.conn)
            if (n.account === null) n.account = p.account
            if (n.dialect === null) n.dialect = p.dialect
          }
        }
        if (ev.midStream === true) n.midStream = true
        this.#rows = null
        return
      case 'session-close':
        if (n.open) { n.open = false; this.#open-- }
        n.closeReason = ev.reason
        this.#rows = null
        return
      case 'malformed':
        n.bytes += ev.raw.length
        return
      case 'command':
        n.bytes += ev.command.raw.length
        this.#command(n, ev)
        return
      default:
    }
  }

  #command(n: ConnNode, ev: ScopeEvent & { kind: 'command' }): void {
    const c = ev.command
    const a = c.args
    if (n.dialect === null && c.dialect !== null) n.dialect = c.dialect
    if (c.from === 'client') {
      switch (c.verb) {
        case 'VER': n.state = 'negotiating'; break
        case 'USR': n.state = n.role === 'SB' ? 'joining' : 'authenticating'; break
        case 'ANS': n.state = 'joining'; break
        case 'CHG': if (a[0] !== undefined) n.state = STATUS[a[0]] ?? a[0]; break
        case 'OUT': n.state = n.role === 'SB' ? 'leaving' : 'signing out'; break
        case 'CAL': if (a[0] !== undefined && n.participants.size < MAX_PARTICIPANTS) n.participants.add(bareAccount(a[0])); break
        default:
      }
      return
    }
    switch (c.verb) {
      case 'XFR': if (a[0] === 'NS') n.state = 'referred'; break
      case 'USR': if (a[0] === 'OK') n.state = n.role === 'SB' ? 'in chat' : 'signed in'; break
      case 'ANS': if (a[0] === 'OK') n.state = 'in chat'; break
      case 'CHG': if (a[0] !== undefined) n.state = STATUS[a[0]] ?? a[0]; break
      case 'JOI': if (a[0] !== undefined && n.participants.size < MAX_PARTICIPANTS) n.participants.add(bareAccount(a[0])); n.state = 'in chat'; break
      case 'IRO': if (a[2] !== undefined && n.participants.size < MAX_PARTICIPANTS) n.participants.add(bareAccount(a[2])); break
      case 'BYE': if (a[0] !== undefined) n.participants.delete(bareAccount(a[0])); break
      case 'MSG': if (n.role === 'SB' && a[0] !== undefined && a[0].includes('@') && n.participants.size < MAX_PARTICIPANTS) n.participants.add(bareAccount(a[0])); break
      case 'OUT': n.state = a[0] !== undefined ? `signed out (${a[0]})` : 'signed out'; break
      default:
    }
  }

  #prune(): void {
    const forget: string[] = []
    const excess = this.#nodes.size - this.#maxConns
    for (const n of this.#nodes.values()) {
      if (forget.length >= Math.max(excess, Math.ceil(this.#maxConns / 10))) break
      if (!n.open) forget.push(n.conn)
    }
    for (const c of forget) this.#nodes.delete(c)
    this.#rows = null
    if (forget.length > 0) this.onForget?.(forget)
  }

  /** The tree flattened into rows, grouped by account (accounts in order of first appearance). */
  rows(): TreeRow[] {
    if (this.#rows !== null) return this.#rows
    const groups = new Map<string, ConnNode[]>()
    // a connection without an account belongs to its referrer's, or else to its first referral's
    const known = (n: ConnNode, depth: number): string | null => {
      if (n.account !== null || depth > 8) return n.account
      const p = n.parent !== undefined ? this.#nodes.get(n.parent) : undefined
      if (p !== undefined && p.account !== null) return p.account
      for (const c of n.children) {
        const k = this.#nodes.get(c)
        const a = k === undefined ? null : k.account ?? known(k, depth + 1)
        if (a !== null) return a
      }
      return null
    }
    const accountOf = (n: ConnNode): string => known(n, 0) ?? '(account not known yet)'
    for (const n of this.#nodes.values()) {
      const parent = n.parent !== undefined ? this.#nodes.get(n.parent) : undefined
      if (parent !== undefined && accountOf(parent) === accountOf(n)) continue
      const key = accountOf(n)
      const list = groups.get(key) ?? []
      list.push(n)
      groups.set(key, list)
    }
    const rows: TreeRow[] = []
    const walk = (n: ConnNode, account: string, depth: number, prefix: string, last: boolean, seen: Set<string>): void => {
      if (seen.has(n.conn)) return
      seen.add(n.conn)
      rows.push({ conn: n.conn, account, depth, prefix: depth === 0 ? '' : `${prefix}${last ? '└ ' : '├ '}` })
      const kids = n.children.map((c) => this.#nodes.get(c)).filter((k): k is ConnNode => k !== undefined && accountOf(k) === account)
      kids.forEach((k, i) => walk(k, account, depth + 1, depth === 0 ? '' : `${prefix}${last ? '  ' : '│ '}`, i === kids.length - 1, seen))
    }
    for (const [account, roots] of groups) {
      rows.push({ conn: null, account, depth: 0, prefix: '' })
      const seen = new Set<string>()
      for (const r of roots) walk(r, account, 0, '', true, seen)
    }
    this.#rows = rows
    return rows
  }

  static describeState(n: ConnNode): string {
    if (!n.open) return n.closeReason !== undefined ? `closed: ${n.closeReason}` : 'closed'
    if (n.role === 'SB' && n.participants.size > 0) {
      const names: string[] = []
      for (const p of n.participants) { if (names.length === 3) break; names.push(p) }
      return `${n.state} with ${names.join(', ')}${n.participants.size > 3 ? ` +${n.participants.size - 3}` : ''}`
    }
    return n.state
  }
}
