/**
 * One switchboard conversation of a lab client: sends texts (ack mode A: resolved on ACK,
 * rejected on NAK), typing notifications, nudges, file-transfer invitations and a P2P
 * display-picture request, and reports what the others send as events that tests can await
 * (`chat.waitFor('text', ...)`). A received P2P message is acknowledged the way TV7 shows.
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { CommandEvent } from '../protocol/events.js'
import { Channel } from './channel.js'
import type { LabClient } from './client.js'
import { decodeWireText, inviteMessage, fileInviteFields, nudgeMessage, parseHeaderBlock, parseMime, textMessage, typingMessage } from './messages.js'
import { P2P_FLAG_ACK, displayPictureObject, guidFrom, p2pAckHeader, p2pMessage, parseP2PMessage, slpInvite, slpStartLine, type P2PHeader } from './p2p.js'
import { EventLog, LabReplyError } from './wire.js'

export interface ChatMessage { from: string; name: string; contentType: string; headers: Map<string, string>; body: Buffer }

export interface InviteReply {
  from: string
  cookie: string
  command: 'ACCEPT' | 'CANCEL'
  /** the invitation fields of the reply (IP-Address, Port, AuthCookie, Cancel-Code, ...) */
  fields: Map<string, string>
}

/** A file-transfer invitation received from another participant. */
export interface IncomingInvite {
  from: string
  cookie: string
  fileName: string
  fileSize: number
  fields: Map<string, string>
  accept(): Promise<void>
  decline(): Promise<void>
}

export interface ChatEvents {
  joined: { account: string; name: string }
  left: { account: string }
  message: ChatMessage
  text: { from: string; name: string; text: string; format: string | null }
  typing: { from: string; user: string }
  nudge: { from: string }
  invite: IncomingInvite
  'invite-reply': InviteReply
  p2p: { from: string; header: P2PHeader; body: Buffer; slp: string | null }
  'p2p-ack': { from: string; header: P2PHeader }
  closed: { reason: string }
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

export class Chat extends EventLog<ChatEvents> {
  /** other participants (accounts) */
  readonly participants = new Set<string>()
  sessionId: string | null = null
  readonly #outgoingInvites = new Set<string>()
  readonly #partialP2P = new Map<string, Buffer[]>()

  private constructor(readonly client: LabClient, readonly channel: Channel, readonly incoming: boolean) {
    super()
    channel.onAsync = (cmd) => this.#onAsync(cmd)
    void channel.conn.done.then((reason) => {
      this.record('closed', { reason })
      this.endLog(reason)
    })
  }

  /** @internal opened by LabClient.openChat and by answering RNG */
  static async connect(client: LabClient, host: string, port: number, incoming: boolean): Promise<Chat> {
    const channel = await Channel.open(host, port, {
      label: `${client.account} SB`, role: 'SB', transport: client.options.transport, dialect: client.dialect, stats: client.stats, log: client.options.log,
    })
    return new Chat(client, channel, incoming)
  }

  get closed(): boolean { return this.channel.closed }

  /** @internal caller side: USR with the XFR cookie */
  async authenticate(cookie: string): Promise<void> {
    const r = await this.channel.request('USR', [this.client.account, cookie])
    if (r.args[0] !== 'OK') throw new LabReplyError(null, 'USR', 'switchboard refused the cookie')
  }

  /** Invite a contact (CAL); resolves when the server rings it. Joining is reported by 'joined'. */
  async invite(contact: string): Promise<void> {
    const r = await this.channel.request('CAL', [contact])
    this.sessionId = r.args[1] ?? null
  }

  /** @internal invitee side: ANS with the RNG cookie and session id; IRO lines fill `participants` */
  async answer(cookie: string, sid: string): Promise<void> {
    this.sessionId = sid
    await this.channel.request('ANS', [this.client.account, cookie, sid])
  }

  #onAsync(cmd: CommandEvent): void {
    switch (cmd.verb) {
      case 'IRO': { // IRO 1 1 1 alice@example.com Alice%20A. [caps]
        const [, , account, name = ''] = cmd.args
        if (account !== undefined) this.#joined(account.split(';')[0]!, decodeWireText(name))
        return
      }
      case 'JOI': {
        const [account, name = ''] = cmd.args
        if (account !== undefined) this.#joined(account.split(';')[0]!, decodeWireText(name))
        return
      }
      case 'BYE': {
        const account = (cmd.args[0] ?? '').split(';')[0]!
        this.participants.delete(account)
        this.record('left', { account })
        return
      }
      case 'MSG':
        if (cmd.trId === null && cmd.payloadRaw !== null) this.#onMessage(cmd.args[0] ?? '', decodeWireText(cmd.args[1] ?? ''), cmd.payloadRaw)
        return
    }
  }

  #joined(account: string, name: string): void {
    this.participants.add(account)
    this.record('joined', { account, name })
  }

  #onMessage(from: string, name: string, payload: Buffer): void {
    const mime = parseMime(payload)
    this.record('message', { from, name, contentType: mime.contentType, headers: mime.headers, body: mime.body })
    switch (mime.contentType) {
      case 'text/plain':
        return this.record('text', { from, name, text: mime.body.toString('utf8'), format: mime.headers.get('x-mms-im-format') ?? null })
      case 'text/x-msmsgscontrol':
        return this.record('typing', { from, user: mime.headers.get('typinguser') ?? from })
      case 'text/x-msnmsgr-datacast':
        if (parseHeaderBlock(mime.body.toString('utf8')).get('id') === '1') this.record('nudge', { from })
        return
      case 'text/x-msmsgsinvite':
        return this.#onInvite(from, parseHeaderBlock(mime.body.toString('utf8')))
      case 'application/x-msnmsgrp2p':
        return this.#onP2P(from, payload)
    }
  }

  #onInvite(from: string, fields: Map<string, string>): void {
    const command = fields.get('invitation-command') ?? ''
    const cookie = fields.get('invitation-cookie') ?? ''
    if (command === 'INVITE') {
      this.record('invite', {
        from, cookie, fields,
        fileName: fields.get('application-file') ?? '',
        fileSize: Number(fields.get('application-filesize') ?? 0),
        accept: () => this.#sendInvite([
          ['Invitation-Command', 'ACCEPT'], ['Invitation-Cookie', cookie], ['Launch-Application', 'FALSE'], ['Request-Data', 'IP-Address:'],
        ]),
        decline: () => this.#sendInvite([['Invitation-Command', 'CANCEL'], ['Invitation-Cookie', cookie], ['Cancel-Code', 'REJECT']]),
      })
      return
    }
    if (command !== 'ACCEPT' && command !== 'CANCEL') return
    // the receiver accepted our file: tell it where to fetch it (the MSNFTP step; nobody connects in the lab)
    if (command === 'ACCEPT' && this.#outgoingInvites.has(cookie) && !fields.has('ip-address')) {
      const local = this.channel.conn.socket.localAddress ?? '127.0.0.1'
      void this.#sendInvite([
        ['Invitation-Command', 'ACCEPT'], ['Invitation-Cookie', cookie], ['IP-Address', local], ['Port', '6891'],
        ['AuthCookie', String(randomInt(1, 2 ** 31))], ['Launch-Application', 'FALSE'], ['Request-Data', 'IP-Address:'],
      ]).catch(() => {})
    }
    this.#outgoingInvites.delete(cookie)
    this.record('invite-reply', { from, cookie, command, fields })
  }

  #onP2P(from: string, payload: Buffer): void {
    const p2p = parseP2PMessage(payload)
    if (p2p === null) return
    const h = p2p.header
    if ((h.flags & P2P_FLAG_ACK) !== 0) return this.record('p2p-ack', { from, header: h })
    // reassemble by sender and Identifier; acknowledge the whole message once
    const key = `${from}/${h.identifier}`
    const parts = this.#partialP2P.get(key) ?? []
    parts.push(p2p.body)
    if (h.offset + h.messageLength < h.totalSize) {
      this.#partialP2P.set(key, parts)
      return
    }
    this.#partialP2P.delete(key)
    const body = Buffer.concat(parts)
    const ack = p2pMessage(from, p2pAckHeader(h, this.client.nextP2PIdentifier()), Buffer.alloc(0))
    this.channel.request('MSG', ['D'], { payload: ack, expect: ['ACK', 'NAK'] }).catch(() => {})
    this.record('p2p', { from, header: h, body, slp: slpStartLine(body) })
  }

  async #send(ack: 'A' | 'S' | 'D', payload: Buffer, what: string): Promise<void> {
    const r = await this.channel.request('MSG', [ack], { payload, expect: ['ACK', 'NAK'] })
    if (r.verb === 'NAK') throw new LabReplyError(null, 'MSG', `${what} not delivered (NAK)`)
  }

  #sendInvite(fields: readonly (readonly [string, string])[]): Promise<void> {
    return this.#send('S', inviteMessage(fields), 'invitation')
  }

  /** A text message (ack mode A): resolves on ACK, rejects on NAK. */
  sendText(text: string, format?: string): Promise<void> {
    return this.#send('A', textMessage(text, format), 'text')
  }

  /** A typing notification (ack mode U: no reply). */
  sendTyping(): void {
    this.channel.post('MSG', ['U'], typingMessage(this.client.account))
  }

  /** A nudge (datacast ID 1, ack mode N: the server answers only on failure). */
  sendNudge(): void {
    this.channel.post('MSG', ['N'], nudgeMessage())
  }

  /** Offer a file (text/x-msmsgsinvite INVITE); resolves with the invitation cookie once the server acknowledges it. */
  async sendFileInvite(fileName: string, fileSize: number): Promise<string> {
    const cookie = String(randomInt(1, 2 ** 31))
    this.#outgoingInvites.add(cookie)
    await this.#sendInvite(fileInviteFields(cookie, fileName, fileSize))
    return cookie
  }

  /** The receiver's answer (ACCEPT or CANCEL) to an invitation sent with sendFileInvite. */
  inviteReply(cookie: string): Promise<InviteReply> {
    return this.waitFor('invite-reply', (r) => r.cookie === cookie)
  }

  /**
   * Send one MSNSLP INVITE asking `to` (default: the first other participant) for its display
   * picture, in a P2P message with a 48-byte header (ack mode D). Resolves with the header of
   * the receiver's P2P acknowledgement.
   */
  async sendP2P(options: { to?: string; msnobj?: string } = {}): Promise<P2PHeader> {
    const to = options.to ?? [...this.participants][0]
    if (to === undefined) throw new LabReplyError(null, 'MSG', 'nobody to send a P2P message to')
    const slp = slpInvite({
      from: this.client.account, to,
      msnobj: options.msnobj ?? this.client.contactObject(to) ?? displayPictureObject(to),
      sessionId: randomInt(1, 2 ** 31), branch: guidFrom(randomBytes(16)), callId: guidFrom(randomBytes(16)),
    })
    const identifier = this.client.nextP2PIdentifier()
    const header: P2PHeader = {
      sessionId: 0, identifier, offset: 0, totalSize: slp.length, messageLength: slp.length, flags: 0,
      ackIdentifier: randomInt(1, 2 ** 31), ackUniqueId: 0, ackDataSize: 0,
    }
    const acked = this.waitFor('p2p-ack', (a) => same(a.from, to) && a.header.ackIdentifier === identifier)
    acked.catch(() => {})
    await this.#send('D', p2pMessage(to, header, slp), 'P2P message')
    return (await acked).header
  }

  /** Leave the conversation (OUT); resolves when the server has closed the connection. */
  async leave(): Promise<void> {
    if (this.closed) return
    this.channel.postBare('OUT')
    await this.channel.conn.done
  }

  /** Drop the connection without OUT. */
  close(): void { this.channel.close() }
}
