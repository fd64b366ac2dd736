/**
 * The lab's switchboard connections. The first command must be USR (the caller, with the
 * cookie of its XFR SB) or ANS (an invitee, with the cookie and session id of its RNG); a wrong
 * cookie gets 911 and the connection ends. Then CAL invites (RINGING, RNG on the invitee's
 * notification connection), MSG is relayed to the other participants as `MSG sender name len`
 * with ACK/NAK by acknowledgement mode, and OUT (or a vanished peer) sends BYE to the others.
 */
import type { CommandEvent, MalformedEvent } from '../protocol/events.js'
import { KNOWN_VERBS } from '../protocol/verbs.js'
import { accountKey } from './directory.js'
import type { LabHub, Room } from './hub.js'
import { iroArgs, isOnlineStatus, joiArgs, rngArgs } from './layout.js'
import { parseP2PMessage } from './p2p.js'
import type { MsnpConnection } from './wire.js'

const ACK_MODES = new Set(['U', 'N', 'A', 'S', 'D'])

export class SbSession {
  dialect = 0
  account = ''
  key = ''
  name = ''
  caps = '0'
  room: Room | null = null

  constructor(readonly hub: LabHub, readonly conn: MsnpConnection) {
    void conn.done.then(() => this.#leave())
  }

  #error(code: number, trId: number | null): void {
    this.conn.send(String(code), trId ?? 0, [])
  }

  malformed(ev: MalformedEvent): void {
    if (ev.code === 'empty-line') return
    if (ev.code === 'not-a-command') this.#error(200, 0)
    this.conn.end(`malformed input: ${ev.reason}`)
  }

  command(cmd: CommandEvent): void {
    const { verb, trId } = cmd
    if (verb === 'OUT') return this.conn.end('left the conversation')
    if (trId === null) return this.#error(200, 0)
    if (this.room === null) {
      if (verb === 'USR') return this.#usr(cmd, trId)
      if (verb === 'ANS') return this.#ans(cmd, trId)
      this.#error(KNOWN_VERBS.has(verb) ? 715 : 200, trId)
      return this.conn.end('switchboard not authenticated')
    }
    switch (verb) {
      case 'CAL': return this.#cal(cmd, trId)
      case 'MSG': return this.#msg(cmd, trId)
      case 'USR': case 'ANS': return this.#error(207, trId)
    }
    this.#error(KNOWN_VERBS.has(verb) ? 715 : 200, trId)
  }

  #authFailed(trId: number): void {
    this.#error(911, trId)
    this.conn.end('bad switchboard cookie')
  }

  #join(account: string, dialect: number, caps: string): void {
    this.account = account
    this.key = accountKey(account)
    this.dialect = dialect
    this.caps = caps
    this.name = this.hub.directory.get(account).name
    this.conn.setDialect(dialect)
  }

  // C: USR 1 alice@example.com 1717171717.29482.12345 -> S: USR 1 OK alice@example.com Alice%20A.
  #usr(cmd: CommandEvent, trId: number): void {
    const [who = '', cookie = ''] = cmd.args
    const ticket = this.hub.xfrTickets.get(cookie)
    const account = who.split(';')[0]!
    if (ticket === undefined || accountKey(ticket.account) !== accountKey(account)) return this.#authFailed(trId)
    this.hub.xfrTickets.delete(cookie)
    this.#join(ticket.account, ticket.dialect, ticket.caps)
    const room: Room = { sid: this.hub.newSid(), members: new Set([this]) }
    this.hub.rooms.set(room.sid, room)
    this.room = room
    this.conn.send('USR', trId, ['OK', who, this.name])
  }

  // C: ANS 1 bob@example.net 849102291.520491113.5811 11752099 -> S: IRO 1 1 1 alice@example.com Alice%20A. 1342177280, ANS 1 OK
  #ans(cmd: CommandEvent, trId: number): void {
    const [who = '', cookie = '', sid = ''] = cmd.args
    const ticket = this.hub.rngTickets.get(cookie)
    const room = ticket === undefined ? undefined : this.hub.rooms.get(ticket.sid)
    const account = who.split(';')[0]!
    if (ticket === undefined || room === undefined || ticket.sid !== sid || accountKey(ticket.account) !== accountKey(account)) {
      return this.#authFailed(trId)
    }
    this.hub.rngTickets.delete(cookie)
    this.#join(ticket.account, ticket.dialect, ticket.caps)
    const others = [...room.members]
    others.forEach((m, i) => this.conn.send('IRO', trId, iroArgs(this.dialect, i + 1, others.length, m.account, m.name, m.caps)))
    this.conn.send('ANS', trId, ['OK'])
    for (const m of others) m.conn.send('JOI', null, joiArgs(m.dialect, this.account, this.name, this.caps))
    room.members.add(this)
    this.room = room
  }

  // C: CAL 2 bob@example.net -> S: CAL 2 RINGING 11752099, and RNG on bob's notification connection
  #cal(cmd: CommandEvent, trId: number): void {
    const room = this.room!
    const target = cmd.args[0] ?? ''
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(target)) return this.#error(208, trId)
    const key = accountKey(target)
    if ([...room.members].some((m) => m.key === key)) return this.#error(215, trId)
    const callee = this.hub.sessions.get(key)
    if (callee === undefined || !isOnlineStatus(this.hub.presence(key).status) || this.hub.blocks(key, this.key)) {
      return this.#error(217, trId)
    }
    const cookie = this.hub.newCookie()
    this.hub.addRngTicket(cookie, { account: callee.user.account, sid: room.sid, dialect: callee.dialect, caps: callee.caps })
    this.conn.send('CAL', trId, ['RINGING', room.sid])
    callee.send('RNG', null, rngArgs(callee.dialect, room.sid, this.hub.addresses.sb, cookie, this.account, this.name))
  }

  // C: MSG 4 A 151 + payload -> others: MSG alice@example.com Alice%20A. 151 + payload; me: ACK 4
  #msg(cmd: CommandEvent, trId: number): void {
    const ack = cmd.args[0] ?? ''
    const payload = cmd.payloadRaw ?? Buffer.alloc(0)
    if (!ACK_MODES.has(ack)) return this.#error(200, trId)
    if (ack === 'D' && parseP2PMessage(payload) === null) {
      this.#error(282, trId)
      return this.conn.end('malformed P2P message')
    }
    let delivered = 0
    for (const m of this.room!.members) {
      if (m === this) continue
      if (m.conn.send('MSG', null, [this.account, this.name], payload)) delivered++
    }
    const ok = delivered > 0
    if (ok && (ack === 'A' || ack === 'S' || ack === 'D')) this.conn.send('ACK', trId, [])
    else if (!ok && (ack === 'A' || ack === 'N' || ack === 'D')) this.conn.send('NAK', trId, [])
  }

  #leave(): void {
    const room = this.room
    if (room === null) return
    this.room = null
    room.members.delete(this)
    for (const m of room.members) m.conn.send('BYE', null, [this.account])
    if (room.members.size === 0) this.hub.rooms.delete(room.sid)
  }
}
