/**
 * The lab's dispatch (DS) and notification (NS) connections. Both negotiate the dialect (VER),
 * answer CVR/INF, and read the first USR; the DS then refers the client to the NS with XFR and
 * closes, the NS runs the login (MD5, TWN or SSO by dialect) and the signed-in session:
 * contact lists, presence, personal messages, challenges, keep-alives and switchboard requests.
 *
 * Wrong states get the error a real server sends (715 not expected, 207 already logged in,
 * 911 failed authentication, 540 wrong challenge answer, 200 unknown command); failed
 * authentication and wrong challenge answers also end the connection.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { parseDialect } from '../protocol/decoder.js'
import type { CommandEvent, MalformedEvent } from '../protocol/events.js'
import { KNOWN_VERBS } from '../protocol/verbs.js'
import { expectedQry, md5LoginResponse } from '../protocol/challenge.js'
import { accountKey, type PresenceState, type UserRecord } from './directory.js'
import type { LabHub } from './hub.js'
import {
  SETTABLE_STATUSES, flnArgs, initialPresenceVerb, isOnlineStatus, presenceArgs, ubxArgs, usrOkArgs, xfrNsArgs, xfrSbArgs,
} from './layout.js'
import { SHIELDS_XML, decodeWireText, initialEmailMessage, profileMessage, psmOf } from './messages.js'
import { handleListCommand } from './ns-lists.js'
import type { MsnpConnection } from './wire.js'

type State = 'ver' | 'auth' | 'auth-s' | 'live'

const ACCOUNT_RE = /^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$/

/** The auth package a dialect logs in with. */
export const authPackage = (dialect: number): 'MD5' | 'TWN' | 'SSO' => dialect < 8 ? 'MD5' : dialect < 15 ? 'TWN' : 'SSO'

export class NsSession {
  dialect = 0
  state: State = 'ver'
  key = ''
  user!: UserRecord
  /** the first CHG happened: the session sees and is seen */
  presenceStarted = false
  status: string | null = null
  caps = '0'
  msnobj = '0'
  psmData: Buffer | null = null
  #account = ''
  #salt = ''
  #ticket = ''
  #challenges: string[] = []

  constructor(readonly hub: LabHub, readonly conn: MsnpConnection, readonly role: 'DS' | 'NS') {
    void conn.done.then(() => { if (this.state === 'live') hub.unregister(this) })
  }

  get account(): string { return this.#account }

  send(verb: string, trId: number | null, args: readonly (string | number)[], payload?: Buffer | string): boolean {
    return this.conn.send(verb, trId, args, payload)
  }

  error(code: number, trId: number | null): void {
    this.send(String(code), trId ?? 0, [])
  }

  presence(): PresenceState {
    if (this.status === null) return { status: 'FLN', caps: '0', msnobj: '0', psmData: null }
    return { status: this.status, caps: this.caps, msnobj: this.msnobj, psmData: this.psmData }
  }

  /** Garbage on the line: answer 200 and hang up (the stream cannot be trusted any more). */
  malformed(ev: MalformedEvent): void {
    if (ev.code === 'empty-line') return
    if (ev.code === 'not-a-command') this.error(200, 0)
    this.conn.end(`malformed input: ${ev.reason}`)
  }

  command(cmd: CommandEvent): void {
    const { verb, trId } = cmd
    if (verb === 'PNG') return this.#png()
    if (verb === 'OUT') return this.conn.end('signed out')
    if (trId === null) return this.error(200, 0)
    switch (verb) {
      case 'VER': return this.#ver(cmd, trId)
      case 'CVR': return this.#cvr(cmd, trId)
      case 'INF': return this.#inf(trId)
      case 'USR': return this.#usr(cmd, trId)
    }
    if (this.role === 'DS' || this.state !== 'live') {
      return this.error(KNOWN_VERBS.has(verb) ? 715 : 200, trId)
    }
    switch (verb) {
      case 'CHG': return this.#chg(cmd, trId)
      case 'UUX': return this.#uux(cmd, trId)
      case 'QRY': return this.#qry(cmd, trId)
      case 'XFR': return this.#xfr(cmd, trId)
      case 'URL': return void this.send('URL', trId, ['/cgi-bin/HoTMaiL', 'https://login.example.invalid/md5auth.srf?lc=1033', '2'])
      case 'GCF': return this.#gcf(cmd, trId)
    }
    if (handleListCommand(this, cmd, trId)) return
    this.error(KNOWN_VERBS.has(verb) ? 502 : 200, trId)
  }

  // C: VER 1 MSNP8 CVR0  ->  S: VER 1 MSNP8
  #ver(cmd: CommandEvent, trId: number): void {
    if (this.state !== 'ver') return this.error(715, trId)
    let chosen: number | null = null
    for (const a of cmd.args) {
      const d = parseDialect(a)
      if (d !== null && this.hub.settings.dialects.has(d)) { chosen = d; break }
    }
    if (chosen === null) {
      this.send('VER', trId, ['0'])
      return this.conn.end('no common dialect')
    }
    this.dialect = chosen
    this.conn.setDialect(chosen)
    this.state = 'auth'
    this.send('VER', trId, [`MSNP${chosen}`])
  }

  // C: CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0544 MSMSGS alice@example.com
  // S: CVR 2 5.0.0544 5.0.0544 1.0.0863 http://download.example.invalid/... http://messenger.example.invalid
  #cvr(cmd: CommandEvent, trId: number): void {
    if (this.state === 'ver') return this.error(715, trId)
    if (cmd.args.length < 7) return this.error(731, trId)
    const v = cmd.args[5]!
    this.send('CVR', trId, [v, v, '1.0.0863', 'http://download.example.invalid/msgr/setup.exe', 'http://messenger.example.invalid'])
  }

  #inf(trId: number): void {
    if (this.state === 'ver') return this.error(715, trId)
    if (this.dialect >= 8) return this.error(502, trId)
    this.send('INF', trId, ['MD5'])
  }

  #usr(cmd: CommandEvent, trId: number): void {
    if (this.state === 'live') return this.error(207, trId)
    if (this.state === 'ver') return this.error(715, trId)
    const [pkg = '', stage = ''] = cmd.args
    if (pkg === 'MD5' && this.dialect >= 8) return this.error(502, trId)
    if (pkg !== authPackage(this.dialect) || (stage !== 'I' && stage !== 'S')) {
      this.error(911, trId)
      return this.conn.end('unsupported authentication')
    }
    if (stage === 'I') return this.#usrInitial(cmd.args[2] ?? '', pkg, trId)
    if (this.state !== 'auth-s') return this.error(715, trId)
    if (!this.#credentialsOk(pkg, cmd.args.slice(2))) {
      this.error(911, trId)
      return this.conn.end('authentication failed')
    }
    this.#signIn(trId)
  }

  #usrInitial(account: string, pkg: string, trId: number): void {
    if (!account.includes('@') || account.endsWith('@')) return this.error(206, trId)
    if (!ACCOUNT_RE.test(account) || account.length > 129) {
      this.error(911, trId)
      return this.conn.end('bad account name')
    }
    if (this.role === 'DS') {
      // S: XFR 3 NS 192.0.2.41:1863 0 192.0.2.10:1863  (then the DS hangs up)
      this.send('XFR', trId, xfrNsArgs(this.dialect, this.hub.addresses.ns, this.hub.addresses.ds))
      return this.conn.end('referred to the notification server')
    }
    this.#account = account
    this.state = 'auth-s'
    if (pkg === 'MD5') {
      this.#salt = `${randomInt(1e9, 2e9)}.${randomInt(10000, 100000)}`
      this.send('USR', trId, ['MD5', 'S', this.#salt])
    } else if (pkg === 'TWN') {
      const ct = Math.floor(Date.now() / 1000)
      const tpf = randomBytes(16).toString('hex')
      this.send('USR', trId, ['TWN', 'S', `lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=${ct},kpp=1,kv=5,ver=2.1.0173.1,tpf=${tpf}`])
    } else {
      this.send('GCF', 0, [], SHIELDS_XML)
      this.send('USR', trId, ['SSO', 'S', 'MBI_KEY_OLD', randomBytes(48).toString('base64')])
    }
  }

  // MD5: a 32-hex response (checked against the password when one is configured);
  // TWN: any ticket; SSO: any ticket and MBI response. It is a lab.
  #credentialsOk(pkg: string, rest: string[]): boolean {
    if (pkg === 'MD5') {
      const response = rest[0] ?? ''
      if (!/^[0-9a-fA-F]{32}$/.test(response)) return false
      const password = this.hub.directory.find(this.#account)?.password ?? null
      return password === null || md5LoginResponse(this.#salt, password) === response.toLowerCase()
    }
    if (pkg === 'TWN') {
      this.#ticket = rest[0] ?? ''
      return this.#ticket.length > 0
    }
    this.#ticket = rest[0] ?? ''
    return this.#ticket.length > 0 && (rest[1] ?? '').length > 0
  }

  #signIn(trId: number): void {
    const d = this.dialect
    this.key = accountKey(this.#account)
    this.user = this.hub.directory.get(this.#account)
    this.state = 'live'
    this.hub.register(this)
    this.send('USR', trId, usrOkArgs(d, this.user.account, this.user.name))
    if (d >= 11) this.send('SBS', 0, ['null'])
    const ticketPart = /^t=([^&]*)/.exec(this.#ticket)?.[1] ?? randomBytes(24).toString('base64')
    const id = createHash('md5').update(this.key).digest()
    this.send('MSG', null, ['Hotmail', 'Hotmail'], profileMessage({
      dialect: d, account: this.user.account, loginTime: Math.floor(Date.now() / 1000), ticket: ticketPart,
      clientIp: this.conn.remoteAddress, clientPort: this.conn.remotePort, memberId: [id.readInt32LE(0), id.readInt32LE(4)],
    }))
    if (d >= 8 && d <= 10) this.send('MSG', null, ['Hotmail', 'Hotmail'], initialEmailMessage())
  }

  // C: CHG 9 NLN 1342177280 0 -> S: CHG 9 NLN 1342177280 0, then (first time) ILN 9 ... per online contact
  #chg(cmd: CommandEvent, trId: number): void {
    const [status = '', caps, msnobj] = cmd.args
    if (!SETTABLE_STATUSES.has(status)) return this.error(201, trId)
    const prev = this.presence().status
    this.status = status
    if (caps !== undefined) this.caps = caps
    if (msnobj !== undefined) this.msnobj = msnobj
    this.send('CHG', trId, cmd.args)
    if (!this.presenceStarted) {
      this.presenceStarted = true
      this.sendInitialPresence(trId)
    }
    this.hub.presenceChanged(this.key, prev)
    if (this.hub.settings.challenge === 'after-chg' && prev === 'FLN' && this.dialect >= 6) this.sendChallenge()
  }

  /** ILN (NLN from MSNP18) for each contact on the FL who is visible, with UBX where there is a PSM. */
  sendInitialPresence(trId: number, only?: ReadonlySet<string>): void {
    for (const [key, entry] of this.user.contacts) {
      if ((entry.lists & 1) === 0 || (only !== undefined && !only.has(key))) continue
      const p = this.hub.presence(key)
      if (!isOnlineStatus(p.status) || this.hub.blocks(key, this.key)) continue
      this.sendPresence(this.hub.directory.get(key), p, trId, true)
    }
  }

  sendPresence(user: UserRecord, p: PresenceState, trId: number | null, withPsm: boolean): void {
    const args = presenceArgs(this.dialect, this.hub.presenceLine(user, p))
    if (trId !== null && initialPresenceVerb(this.dialect) === 'ILN') this.send('ILN', trId, args)
    else this.send('NLN', null, args)
    if (withPsm && p.psmData !== null) this.sendPsm(user, p.psmData)
  }

  sendOffline(user: UserRecord): void {
    this.send('FLN', null, flnArgs(this.dialect, user.account))
  }

  sendPsm(user: UserRecord, data: Buffer): void {
    if (this.dialect >= 11) this.send('UBX', null, ubxArgs(this.dialect, user.account), data)
  }

  /** Sign this session out because the account signed in elsewhere (or the server says so). */
  kick(reason: string): void {
    this.send('OUT', null, [reason])
    this.conn.end(`signed out: ${reason}`)
  }

  /** Send `CHL 0 <challenge>`; the answer must come with QRY. Returns the challenge. */
  sendChallenge(challenge?: string): string {
    const value = challenge ?? String(randomInt(1e9, 1e10 - 1)) + String(randomInt(1e9, 1e10 - 1))
    this.#challenges.push(value)
    if (this.#challenges.length > 8) this.#challenges.shift()
    this.send('CHL', 0, [value])
    return value
  }

  // C: UUX 10 66 + <Data><PSM>..</PSM>..</Data>  ->  S: UUX 10 0
  #uux(cmd: CommandEvent, trId: number): void {
    if (this.dialect < 11) return this.error(502, trId)
    const data = cmd.payloadRaw ?? Buffer.alloc(0)
    this.send('UUX', trId, [], Buffer.alloc(0))
    if (psmOf(data) === null) return
    const changed = this.psmData === null || !this.psmData.equals(data)
    this.psmData = Buffer.from(data)
    if (changed) this.hub.psmChanged(this.key)
  }

  // C: QRY 10 msmsgs@msnmsgr.com 32 + answer  ->  S: QRY 10, or 540 and hang up
  #qry(cmd: CommandEvent, trId: number): void {
    const productId = cmd.args[0] ?? ''
    const answer = (cmd.payloadRaw ?? Buffer.alloc(0)).toString('latin1').toLowerCase()
    const i = this.#challenges.findIndex((c) => expectedQry(this.dialect, c, productId) === answer)
    if (i < 0) {
      this.error(540, trId)
      return this.conn.end('wrong challenge answer')
    }
    this.#challenges.splice(i, 1)
    this.send('QRY', trId, [])
  }

  // C: XFR 12 SB  ->  S: XFR 12 SB 192.0.2.77:1863 CKI <cookie> [U messenger.msn.com [1]]
  #xfr(cmd: CommandEvent, trId: number): void {
    if (cmd.args[0] !== 'SB') return this.error(715, trId)
    if (this.status === null || this.status === 'HDN') return this.error(913, trId)
    const cookie = this.hub.newCookie()
    this.hub.addXfrTicket(cookie, { account: this.user.account, dialect: this.dialect, caps: this.caps })
    this.send('XFR', trId, xfrSbArgs(this.dialect, this.hub.addresses.sb, cookie))
  }

  // C: GCF 7 Shields.xml  ->  S: GCF 7 Shields.xml <len> (MSNP11-12) | GCF 7 <len> (13+)
  #gcf(cmd: CommandEvent, trId: number): void {
    if (this.dialect < 11) return this.error(502, trId)
    this.send('GCF', trId, this.dialect <= 12 ? [cmd.args[0] ?? 'Shields.xml'] : [], SHIELDS_XML)
  }

  #png(): void {
    this.send('QNG', null, this.dialect >= 9 ? ['50'] : [])
  }

  /** A friendly name change (PRP MFN, REA): store it and tell the watchers. */
  rename(nameWire: string): void {
    this.user.name = encodeURIComponent(decodeWireText(nameWire))
    const now = this.presence().status
    if (isOnlineStatus(now)) this.hub.presenceChanged(this.key, now)
  }
}
