/**
 * Session tracking across connections, shared by the live proxy and capture import: the role of
 * each connection (DS, NS, SB), the account behind it, its dialect, and the links that XFR and RNG
 * create (a switchboard knows which notification session referred it, and inherits its dialect).
 * No I/O: it only looks at decoded commands.
 */
import type { DialectState } from '../protocol/decoder.js'
import type { CommandEvent, Role } from '../protocol/events.js'
import type { Transport } from '../events.js'

export interface ConnState {
  conn: string
  transport: Transport
  client: string | null
  server: string | null
  role: Role
  account: string | null
  /** shared with both decoders of the connection; a switchboard's is set from its parent */
  dialectState: DialectState
  parent?: string
  via?: 'XFR' | 'RNG' | 'CKI'
  /** switchboard cookie used on this connection */
  cookie?: string
  /** switchboard session id (RNG/ANS) */
  sessionId?: string
  /** connections this one referred (XFR/RNG targets that were later opened) */
  children: string[]
}

/** What a referral (XFR NS, XFR SB, RNG) told us about the connection that will follow it. */
export interface Referral {
  kind: 'NS' | 'SB'
  via: 'XFR' | 'RNG'
  parent: string
  target: string
  cookie?: string
  sessionId?: string
  account: string | null
  dialect: number | null
}

const AUTH_SCHEMES = new Set(['MD5', 'TWN', 'SSO', 'SHA', 'CTP'])

/** `alice@example.com;{guid}` and `1:alice@example.com` → `alice@example.com` */
export function bareAccount(token: string): string {
  let a = token
  const semi = a.indexOf(';')
  if (semi >= 0) a = a.slice(0, semi)
  const colon = a.indexOf(':')
  if (colon >= 0 && /^\d+$/.test(a.slice(0, colon))) a = a.slice(colon + 1)
  return a
}

export class SessionTracker {
  readonly #conns = new Map<string, ConnState>()
  /** switchboard referrals by CKI cookie; bounded (oldest forgotten first) */
  readonly #cookies = new Map<string, Referral>()
  /** notification-server referrals by host:port */
  readonly #nsTargets = new Map<string, Referral>()
  readonly maxReferrals: number

  constructor(options: { maxReferrals?: number } = {}) {
    this.maxReferrals = options.maxReferrals ?? 10_000
  }

  get(conn: string): ConnState | undefined { return this.#conns.get(conn) }

  /** Open a connection. `server` (ip:port) is matched against earlier XFR NS referrals. */
  open(info: { conn: string; transport: Transport; client: string | null; server: string | null; role?: Role; dialect?: number | null }): ConnState {
    const state: ConnState = {
      conn: info.conn, transport: info.transport, client: info.client, server: info.server,
      role: info.role ?? '?', account: null,
      dialectState: { dialect: info.dialect ?? null, confirmed: info.dialect !== undefined && info.dialect !== null },
      children: [],
    }
    if ((state.role === '?' || state.role === 'NS') && info.server !== null) {
      const ref = this.#nsTargets.get(info.server)
      if (ref !== undefined) this.#adopt(state, ref)
    }
    this.#conns.set(info.conn, state)
    return state
  }

  close(conn: string): void { this.#conns.delete(conn) }

  /** Look up a switchboard referral by cookie (the proxy routes SB connections with it). */
  referralByCookie(cookie: string): Referral | undefined { return this.#cookies.get(cookie) }

  /** Record a referral the proxy saw (or rewrote); exposed for transports that route by it. */
  addReferral(ref: Referral): void {
    const map = ref.kind === 'SB' ? this.#cookies : this.#nsTargets
    const key = ref.kind === 'SB' ? ref.cookie ?? ref.target : ref.target
    map.delete(key)
    map.set(key, ref)
    if (map.size > this.maxReferrals) {
      const oldest = map.keys().next()
      if (oldest.done !== true) map.delete(oldest.value)
    }
  }

  #adopt(state: ConnState, ref: Referral): void {
    state.role = ref.kind
    state.parent = ref.parent
    state.via = ref.via
    if (state.account === null) state.account = ref.account
    if (ref.kind === 'SB' && ref.dialect !== null && state.dialectState.dialect === null) {
      state.dialectState.dialect = ref.dialect
      state.dialectState.confirmed = true
    }
    if (ref.cookie !== undefined) state.cookie = ref.cookie
    if (ref.sessionId !== undefined) state.sessionId = ref.sessionId
    this.#conns.get(ref.parent)?.children.push(state.conn)
  }

  /** Learn from one decoded command of a connection. Returns the referral it created, if any. */
  observe(state: ConnState, cmd: CommandEvent): Referral | undefined {
    const a = cmd.args
    const verb = cmd.verb
    if (cmd.from === 'client') {
      if (verb === 'USR') {
        if (a.length >= 3 && AUTH_SCHEMES.has(a[0]!) && a[1] === 'I') {
          state.account ??= bareAccount(a[2]!)
        } else if (a.length === 2 && !AUTH_SCHEMES.has(a[0]!) && a[0]!.includes('@')) {
          this.#switchboard(state, bareAccount(a[0]!), a[1]!)
        }
      } else if (verb === 'ANS' && a.length >= 3) {
        this.#switchboard(state, bareAccount(a[0]!), a[1]!)
        state.sessionId ??= a[2]!
      } else if (verb === 'CVR' && a.length >= 8 && state.account === null && a[7]!.includes('@')) {
        state.account = bareAccount(a[7]!)
      }
      return undefined
    }
    switch (verb) {
      case 'USR':
        if (a[0] === 'OK') {
          if (state.role === '?' || state.role === 'DS') state.role = 'NS'
          if (a[1] !== undefined && a[1].includes('@')) state.account = bareAccount(a[1])
        } else if (a.length >= 2 && AUTH_SCHEMES.has(a[0]!) && a[1] === 'S' && state.role !== 'SB') state.role = 'NS'
        return undefined
      case 'XFR': {
        const target = a[1]
        if (target === undefined) return undefined
        if (a[0] === 'NS') {
          if (state.role === '?') state.role = 'DS'
          const ref: Referral = { kind: 'NS', via: 'XFR', parent: state.conn, target, account: state.account, dialect: state.dialectState.dialect }
          this.addReferral(ref)
          return ref
        }
        if (a[0] === 'SB' && a[2] === 'CKI' && a[3] !== undefined) {
          if (state.role === '?' || state.role === 'DS') state.role = 'NS'
          const ref: Referral = { kind: 'SB', via: 'XFR', parent: state.conn, target, cookie: a[3], account: state.account, dialect: state.dialectState.dialect }
          this.addReferral(ref)
          return ref
        }
        return undefined
      }
      case 'RNG': {
        // RNG <session-id> <host:port> CKI <cookie> <caller> <caller-name> ...
        if (a.length < 4 || a[2] !== 'CKI') return undefined
        if (state.role === '?' || state.role === 'DS') state.role = 'NS'
        const ref: Referral = { kind: 'SB', via: 'RNG', parent: state.conn, target: a[1]!, cookie: a[3]!, sessionId: a[0]!, account: state.account, dialect: state.dialectState.dialect }
        this.addReferral(ref)
        return ref
      }
      case 'IRO': case 'JOI': case 'CAL':
        if (state.role === '?') state.role = 'SB'
        return undefined
      case 'ILN': case 'NLN': case 'FLN': case 'CHL': case 'SYN': case 'UBX': case 'SBS': case 'GCF':
        if (state.role === '?') state.role = 'NS'
        return undefined
      default:
        return undefined
    }
  }

  #switchboard(state: ConnState, account: string, cookie: string): void {
    state.account = account
    state.cookie = cookie
    if (state.parent === undefined) {
      const ref = this.#cookies.get(cookie)
      if (ref !== undefined) this.#adopt(state, ref)
    }
    state.role = 'SB'
  }
}
