/**
 * State shared by the lab's dispatch, notification and switchboard connections: who is signed
 * in, what each user shows to others, the cookies handed out by XFR SB and RNG, and the open
 * switchboard sessions. Presence changes fan out from here to the watchers' connections.
 */
import { randomInt } from 'node:crypto'
import { Directory, LIST_BITS, accountKey, type PresenceState, type UserRecord } from './directory.js'
import { isOnlineStatus, type PresenceLine } from './layout.js'
import type { NsSession } from './ns.js'
import type { SbSession } from './sb.js'

export interface XfrTicket { account: string; dialect: number; caps: string }
export interface RngTicket { account: string; sid: string; dialect: number; caps: string }
export interface Room { sid: string; members: Set<SbSession> }

export type ChallengePolicy = 'after-chg' | 'manual'

export interface HubSettings {
  dialects: ReadonlySet<number>
  challenge: ChallengePolicy
}

const MAX_TICKETS = 4096
const OFFLINE: PresenceState = { status: 'FLN', caps: '0', msnobj: '0', psmData: null }

const digits = (n: number): string => Array.from({ length: n }, (_, i) => String(randomInt(i === 0 ? 1 : 0, 10))).join('')

export class LabHub {
  /** advertised `host:port` of each role, filled in once the listeners are up */
  readonly addresses = { ds: '', ns: '', sb: '' }
  /** signed-in notification sessions by account key */
  readonly sessions = new Map<string, NsSession>()
  readonly xfrTickets = new Map<string, XfrTicket>()
  readonly rngTickets = new Map<string, RngTicket>()
  readonly rooms = new Map<string, Room>()

  constructor(readonly directory: Directory, readonly settings: HubSettings) {}

  newCookie(): string {
    return `${digits(10)}.${digits(5)}.${digits(5)}`
  }

  newSid(): string {
    for (;;) {
      const sid = digits(8)
      if (!this.rooms.has(sid)) return sid
    }
  }

  addXfrTicket(cookie: string, t: XfrTicket): void { bounded(this.xfrTickets).set(cookie, t) }
  addRngTicket(cookie: string, t: RngTicket): void { bounded(this.rngTickets).set(cookie, t) }

  /** What `key` shows to others right now (status FLN when signed out). */
  presence(key: string): PresenceState {
    const s = this.sessions.get(key)
    if (s !== undefined) return s.presence()
    return this.directory.find(key)?.simulated ?? OFFLINE
  }

  presenceLine(user: UserRecord, p: PresenceState): PresenceLine {
    return { status: p.status, account: user.account, name: user.name, caps: p.caps, msnobj: p.msnobj }
  }

  /** True when `owner` has `other` on its block list. */
  blocks(ownerKey: string, otherKey: string): boolean {
    const entry = this.directory.find(ownerKey)?.contacts.get(otherKey)
    return entry !== undefined && (entry.lists & LIST_BITS.BL) !== 0
  }

  /** Signed-in sessions that asked for `key`'s presence: it is on their FL and does not block them. */
  watchers(key: string): NsSession[] {
    const out: NsSession[] = []
    for (const s of this.sessions.values()) {
      if (!s.presenceStarted || s.key === key) continue
      const entry = s.user.contacts.get(key)
      if (entry === undefined || (entry.lists & LIST_BITS.FL) === 0) continue
      if (this.blocks(key, s.key)) continue
      out.push(s)
    }
    return out
  }

  /**
   * `key`'s status, name or object changed from `prev`: online watchers get NLN (and UBX when
   * the user just appeared), and FLN when it went offline or hidden. A hidden user who signs
   * out is reported offline once more, which is harmless for clients.
   */
  presenceChanged(key: string, prev: string): void {
    const now = this.presence(key)
    const user = this.directory.get(key)
    const appeared = !isOnlineStatus(prev)
    for (const w of this.watchers(key)) {
      if (isOnlineStatus(now.status)) w.sendPresence(user, now, null, appeared)
      else if (prev !== 'FLN') w.sendOffline(user)
    }
  }

  /** A new personal message: watchers on MSNP11+ get UBX while the user is visible. */
  psmChanged(key: string): void {
    const now = this.presence(key)
    if (!isOnlineStatus(now.status) || now.psmData === null) return
    const user = this.directory.get(key)
    for (const w of this.watchers(key)) w.sendPsm(user, now.psmData)
  }

  /** Sign in `s`; an older session of the same account is signed out with `OUT OTH`. */
  register(s: NsSession): void {
    const old = this.sessions.get(s.key)
    this.sessions.set(s.key, s)
    if (old !== undefined && old !== s) old.kick('OTH')
  }

  unregister(s: NsSession): void {
    if (this.sessions.get(s.key) !== s) return
    const prev = s.presence().status
    this.sessions.delete(s.key)
    if (prev !== 'FLN') this.presenceChanged(s.key, prev)
  }

  /** Change a simulated user's presence (tests and the demo puppet accounts with this). */
  setSimulated(account: string, p: PresenceState): void {
    const key = accountKey(account)
    const user = this.directory.get(key)
    const prev = this.presence(key)
    user.simulated = p
    if (this.sessions.has(key)) return
    if (prev.status !== p.status || prev.caps !== p.caps || prev.msnobj !== p.msnobj) this.presenceChanged(key, prev.status)
    const samePsm = prev.psmData === null ? p.psmData === null : p.psmData !== null && prev.psmData.equals(p.psmData)
    if (isOnlineStatus(prev.status) && !samePsm) this.psmChanged(key)
  }
}

function bounded<V>(map: Map<string, V>): Map<string, V> {
  while (map.size >= MAX_TICKETS) {
    const first = map.keys().next()
    if (first.done === true) break
    map.delete(first.value)
  }
  return map
}
