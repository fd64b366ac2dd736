/**
 * What the rule engine remembers about each connection so that its answers stay consistent:
 * the other participants of a switchboard (to answer as one of them), the TrIDs of commands it
 * sent to the server itself (their replies must not reach a client that never asked), and the
 * P2P messages it made or blocked (their acknowledgements and later chunks go nowhere either).
 * Everything is bounded; a connection is forgotten when it closes or when too many are open.
 */
import type { CommandEvent } from '../protocol/events.js'
import { bareAccount } from '../session/tracker.js'

export interface Participant {
  account: string
  /** the friendly name as it appeared on the wire (URL-encoded) */
  nameToken: string
}

const MAX_ITEMS = 256
const MAX_CONNS = 8192

function addBounded<T>(set: Set<T>, value: T): void {
  set.add(value)
  if (set.size > MAX_ITEMS) {
    const oldest = set.values().next()
    if (oldest.done !== true) set.delete(oldest.value)
  }
}

export class ConnMemory {
  /** other participants of a switchboard conversation, by lower-case account, in order of arrival */
  readonly participants = new Map<string, Participant>()
  readonly #injected = new Set<number>()
  readonly #ownP2P = new Set<number>()
  readonly #blockedP2P = new Set<string>()

  /** Learn from a command that passed by (roster changes, the client's TrIDs). */
  observe(cmd: CommandEvent): void {
    if (cmd.from === 'client') {
      // a TrID msnscope once used that the client has now reached is the client's again: the
      // server's replies to it are the client's
      if (cmd.trId !== null && this.#injected.size > 0) this.#injected.delete(cmd.trId)
      return
    }
    const a = cmd.args
    switch (cmd.verb) {
      // S: IRO 1 1 2 alice@example.com Alice%20A. [caps]
      case 'IRO': if (a[2] !== undefined) this.#join(a[2], a[3] ?? a[2]); break
      // S: JOI bob@example.net Bob [caps]
      case 'JOI': if (a[0] !== undefined) this.#join(a[0], a[1] ?? a[0]); break
      // S: BYE bob@example.net
      case 'BYE': if (a[0] !== undefined) this.participants.delete(bareAccount(a[0]).toLowerCase()); break
      // S: MSG bob@example.net Bob 123 (a participant the roster did not name, e.g. joined before a reload)
      case 'MSG': if (a[0] !== undefined && a[0] !== 'Hotmail' && a[0].includes('@')) this.#join(a[0], a[1] ?? a[0]); break
    }
  }

  #join(token: string, nameToken: string): void {
    const account = bareAccount(token)
    const key = account.toLowerCase()
    if (!this.participants.has(key)) this.participants.set(key, { account, nameToken })
    if (this.participants.size > MAX_ITEMS) this.participants.delete(this.participants.keys().next().value as string)
  }

  participant(account: string): Participant | undefined { return this.participants.get(bareAccount(account).toLowerCase()) }

  /** A TrID msnscope used for a command it sent to the server. */
  injected(trId: number): void { addBounded(this.#injected, trId) }
  /** Is this server command a reply to one msnscope sent? (Replies may be several lines: IRO … ANS OK.) */
  isReplyToInjected(cmd: CommandEvent): boolean {
    return cmd.from === 'server' && cmd.trId !== null && cmd.trId !== 0 && this.#injected.has(cmd.trId)
  }

  ownP2P(identifier: number): void { addBounded(this.#ownP2P, identifier) }
  isOwnP2P(identifier: number): boolean { return this.#ownP2P.has(identifier) }
  blockedP2P(from: string, identifier: number): void { addBounded(this.#blockedP2P, `${from}:${identifier}`) }
  isBlockedP2P(from: string, identifier: number): boolean { return this.#blockedP2P.has(`${from}:${identifier}`) }
}

/** Per-connection memories, oldest forgotten first beyond a bound. */
export class Memory {
  readonly #conns = new Map<string, ConnMemory>()

  get(conn: string): ConnMemory {
    let m = this.#conns.get(conn)
    if (m === undefined) {
      m = new ConnMemory()
      this.#conns.set(conn, m)
      if (this.#conns.size > MAX_CONNS) this.#conns.delete(this.#conns.keys().next().value as string)
    }
    return m
  }

  forget(conn: string): void { this.#conns.delete(conn) }

  get size(): number { return this.#conns.size }
}
