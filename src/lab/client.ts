/**
 * A scripted MSN client for the lab, in one dialect (MSNP2-18). It connects to whatever host
 * and port it is given (the lab server or a proxy in front of it) and follows every address it
 * is handed (XFR NS, XFR SB, RNG), so a proxy that rewrites them keeps it inside.
 *
 * Everything it sees is an event a test can await (`client.waitFor('presence', ...)`), and
 * challenges are answered with the algorithm of the dialect. It never emits 'error': failures
 * reject the promise of the call that caused them.
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { CommandEvent } from '../protocol/events.js'
import { MSMSGS_PRODUCT_ID, expectedQry, mbiKeyResponse, md5LoginResponse } from '../protocol/challenge.js'
import { Channel, newTrafficStats, type LabTransport, type TrafficStats } from './channel.js'
import { Chat } from './chat.js'
import { SETTABLE_STATUSES, parsePresence, stripNetworkId } from './layout.js'
import { decodeWireText, encodeWireText, psmDocument, psmOf } from './messages.js'
import { authPackage } from './ns.js'
import { displayPictureObject } from './p2p.js'
import { EventLog, LabReplyError, splitHostPort } from './wire.js'
import { MsnscopeError } from '../errors.js'

export interface LabClientOptions {
  account: string
  /** used for MD5 logins (MSNP2-7); default "password" */
  password?: string
  /** MSNP version, 2 to 18 */
  dialect: number
  /** where to connect first: the dispatch server, or a proxy in front of it */
  host: string
  port: number
  /** display name (plain text), sent with PRP MFN on MSNP13+ */
  name?: string
  /** contacts announced with ADL on MSNP13+ (earlier dialects get their lists from SYN) */
  contacts?: readonly string[]
  /** answer switchboard invitations (RNG) automatically; default true */
  autoAnswer?: boolean
  /** one line per command sent and received */
  log?: (line: string) => void
  /** give up on openChat when the contact has not joined after this long (default 30 s) */
  joinTimeoutMs?: number
  /** how to reach the servers (default TCP); see gatewayTransport in gateway.ts */
  transport?: LabTransport
}

export interface ContactState { account: string; status: string; name: string; caps: string; msnobj: string; psm: string | null }

export interface LabClientEvents {
  'signed-in': { account: string; dialect: number }
  presence: ContactState & { initial: boolean }
  offline: { account: string }
  psm: { account: string; psm: string }
  ring: { sid: string; address: string; caller: string; callerName: string }
  chat: Chat
  'chat-failed': { caller: string; error: Error }
  challenge: { challenge: string; answer: string }
  'signed-out': { reason: string }
  closed: { reason: string }
}

/** Product id per dialect family (auth.md section 5); the key is looked up by expectedQry. */
function productIdFor(dialect: number): string {
  if (dialect <= 10) return MSMSGS_PRODUCT_ID
  if (dialect <= 12) return 'PROD0090YUAUV{2B'
  if (dialect <= 14) return 'PROD01065C%ZFN6F'
  if (dialect === 15) return 'PROD0119GSJUC$18'
  return 'PROD0120PW!CCV9@'
}

/** Capabilities a client of that generation announces with CHG. */
function capsFor(dialect: number): string {
  if (dialect < 12) return '268435492'
  if (dialect < 16) return '1342177316'
  return '2789003324:48'
}

const CLIENT_VERSION: [number, string][] = [[9, '5.0.0544'], [10, '6.0.0602'], [11, '6.2.0208'], [12, '7.0.0816'], [13, '7.5.0324'], [15, '8.1.0178'], [16, '8.5.1302']]
const clientVersion = (d: number): string => CLIENT_VERSION.find(([below]) => d < below)?.[1] ?? '14.0.8117.0416'

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new LabReplyError(null, what, `${what}: no answer after ${ms} ms`)), ms)
    p.then((v) => { clearTimeout(timer); resolve(v) }, (e: unknown) => { clearTimeout(timer); reject(e) })
  })
}

export class LabClient extends EventLog<LabClientEvents> {
  readonly account: string
  readonly dialect: number
  readonly stats: TrafficStats = newTrafficStats()
  readonly contacts = new Map<string, ContactState>()
  readonly chats = new Set<Chat>()
  /** this client's display picture, announced with CHG from MSNP9 */
  readonly msnobj: string
  #ns: Channel | null = null
  #signedIn = false
  #p2pId = randomInt(1, 2 ** 30)
  #pingWaiters: (() => void)[] = []

  constructor(readonly options: LabClientOptions) {
    super()
    if (!Number.isInteger(options.dialect) || options.dialect < 2 || options.dialect > 18) {
      throw new MsnscopeError('EUSAGE', `lab clients speak MSNP2 to MSNP18, not MSNP${options.dialect}`)
    }
    this.account = options.account
    this.dialect = options.dialect
    this.msnobj = displayPictureObject(options.account)
  }

  get signedIn(): boolean { return this.#signedIn }

  /** @internal */
  nextP2PIdentifier(): number { return ++this.#p2pId }

  /** The MSNObject a contact announced (decoded), if any. */
  contactObject(account: string): string | null {
    const c = this.contacts.get(account.toLowerCase())
    if (c === undefined || c.msnobj === '0' || c.msnobj === '') return null
    return decodeWireText(c.msnobj)
  }

  async #channel(host: string, port: number, label: 'DS' | 'NS'): Promise<Channel> {
    const ch = await Channel.open(host, port, { label: `${this.account} ${label}`, role: label, transport: this.options.transport, dialect: this.dialect, stats: this.stats, log: this.options.log })
    ch.onAsync = (cmd) => this.#onNs(cmd, ch)
    return ch
  }

  /**
   * Sign in: VER, CVR (or INF), USR ... I at the first server; follow its XFR NS; log in there
   * with the package of the dialect; then SYN (MSNP2-12) or BLP/ADL (13+). The client appears
   * offline until setPresence.
   */
  async login(): Promise<void> {
    if (this.#signedIn) throw new MsnscopeError('EUSAGE', `${this.account} is already signed in`)
    const d = this.dialect
    const pkg = authPackage(d)
    let ch = await this.#channel(this.options.host, this.options.port, 'DS')
    try {
      for (let hops = 0; ; hops++) {
        const ver = await ch.request('VER', [`MSNP${d}`, 'CVR0'])
        if (ver.args[0]?.toUpperCase() !== `MSNP${d}`) throw new LabReplyError(null, 'VER', `server refused MSNP${d}`)
        if (d < 8) await ch.request('INF', [])
        else await ch.request('CVR', ['0x0409', 'winnt', '5.1', 'i386', 'MSNMSGR', clientVersion(d), 'msmsgs', this.account])
        const r = await ch.request('USR', [pkg, 'I', this.account], { expect: ['USR', 'XFR'] })
        if (r.verb === 'XFR') {
          const addr = splitHostPort(r.args[1] ?? '')
          if (r.args[0] !== 'NS' || addr === null || hops >= 3) throw new LabReplyError(null, 'USR', `unusable referral: XFR ${r.args.join(' ')}`)
          ch.close()
          ch = await this.#channel(addr.host, addr.port, 'NS')
          continue
        }
        const ok = await ch.request('USR', [pkg, 'S', ...this.#credentials(pkg, r.args)])
        if (ok.args[0] !== 'OK') throw new LabReplyError(null, 'USR', 'login not accepted')
        break
      }
      this.#ns = ch
      await this.#syncLists(ch)
    } catch (err) {
      ch.close()
      throw err
    }
    void ch.conn.done.then((reason) => {
      this.#signedIn = false
      this.record('closed', { reason })
    })
    this.#signedIn = true
    this.record('signed-in', { account: this.account, dialect: d })
  }

  // S: USR 6 MD5 S <salt> | USR 6 TWN S <passport params> | USR 6 SSO S MBI_KEY_OLD <nonce>
  #credentials(pkg: string, args: readonly string[]): string[] {
    if (pkg === 'MD5') return [md5LoginResponse(args[2] ?? '', this.options.password ?? 'password')]
    const ticket = `t=${randomBytes(24).toString('base64url')}&p=${randomBytes(12).toString('base64url')}`
    if (pkg === 'TWN') return [ticket]
    const response = mbiKeyResponse(randomBytes(24).toString('base64'), args[3] ?? '', randomBytes(8))
    return this.dialect >= 16 ? [ticket, response, `{${randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}}`] : [ticket, response]
  }

  async #syncLists(ch: Channel): Promise<void> {
    const d = this.dialect
    if (d <= 12) {
      await ch.request('SYN', d <= 9 ? ['0'] : ['0', '0'])
      return
    }
    await ch.request('BLP', ['AL'])
    const byDomain = new Map<string, string[]>()
    for (const c of this.options.contacts ?? []) {
      const [local = '', domain = ''] = c.split('@')
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), local])
    }
    const ml = `<ml l="1">${[...byDomain].map(([dom, locals]) => `<d n="${dom}">${locals.map((l) => `<c n="${l}" l="3" t="1" />`).join('')}</d>`).join('')}</ml>`
    await ch.request('ADL', [], { payload: Buffer.from(ml, 'utf8'), expect: ['ADL'] })
    if (this.options.name !== undefined) await ch.request('PRP', ['MFN', encodeWireText(this.options.name)])
  }

  #requireNs(what: string): Channel {
    if (this.#ns === null || !this.#signedIn) throw new MsnscopeError('EUSAGE', `${what}: ${this.account} is not signed in`)
    return this.#ns
  }

  /** CHG: resolves on the server's echo (the first one also brings the contacts' presence). */
  async setPresence(status = 'NLN'): Promise<void> {
    if (!SETTABLE_STATUSES.has(status)) throw new MsnscopeError('EUSAGE', `not a status a client can set: ${status}`)
    const ch = this.#requireNs('setPresence')
    const d = this.dialect
    const args = [status]
    if (d >= 8) args.push(capsFor(d))
    if (d >= 9) args.push(encodeWireText(this.msnobj))
    await ch.request('CHG', args)
  }

  /** UUX with a `<Data><PSM>` document (MSNP11+). */
  async setPersonalMessage(text: string): Promise<void> {
    if (this.dialect < 11) throw new MsnscopeError('EUSAGE', `personal messages need MSNP11 or later, not MSNP${this.dialect}`)
    await this.#requireNs('setPersonalMessage').request('UUX', [], { payload: psmDocument(text) })
  }

  /** PNG; resolves on QNG. */
  async ping(): Promise<void> {
    const ch = this.#requireNs('ping')
    // Through the HTTP gateway polling keeps the session alive, and a PNG would end it.
    if (this.options.transport?.keepAlive === 'polling') return
    const got = new Promise<void>((resolve) => this.#pingWaiters.push(resolve))
    ch.postBare('PNG')
    await Promise.race([got, ch.conn.done.then((r) => { throw new LabReplyError(null, 'PNG', `connection closed (${r})`) })])
  }

  /**
   * Start a conversation: XFR SB, connect to the switchboard handed out, USR with its cookie,
   * CAL the contact, and resolve once the contact has joined.
   */
  async openChat(contact: string): Promise<Chat> {
    const x = await this.#requireNs('openChat').request('XFR', ['SB'])
    const addr = splitHostPort(x.args[1] ?? '')
    if (x.args[0] !== 'SB' || addr === null || x.args[3] === undefined) throw new LabReplyError(null, 'XFR', `unusable referral: XFR ${x.args.join(' ')}`)
    const chat = await Chat.connect(this, addr.host, addr.port, false)
    try {
      await chat.authenticate(x.args[3])
      await chat.invite(contact)
      await withTimeout(chat.waitFor('joined', (j) => j.account.toLowerCase() === contact.toLowerCase()), this.options.joinTimeoutMs ?? 30_000, `${contact} joining`)
    } catch (err) {
      chat.close()
      throw err
    }
    this.#track(chat)
    return chat
  }

  #track(chat: Chat): void {
    this.chats.add(chat)
    void chat.channel.conn.done.then(() => this.chats.delete(chat))
  }

  // S: RNG 11752099 192.0.2.77:1863 CKI <cookie> alice@example.com Alice%20A. [U domain] [1]
  async #answer(args: readonly string[]): Promise<void> {
    const [sid = '', address = '', , cookie = '', caller = '', callerName = ''] = args
    this.record('ring', { sid, address, caller, callerName: decodeWireText(callerName) })
    if (this.options.autoAnswer === false) return
    const addr = splitHostPort(address)
    if (addr === null) throw new LabReplyError(null, 'RNG', `unusable address ${address}`)
    const chat = await Chat.connect(this, addr.host, addr.port, true)
    try {
      await chat.answer(cookie, sid)
    } catch (err) {
      chat.close()
      throw err
    }
    this.#track(chat)
    this.record('chat', chat)
  }

  #onNs(cmd: CommandEvent, ch: Channel): void {
    const d = this.dialect
    switch (cmd.verb) {
      case 'CHL': return this.#answerChallenge(ch, cmd.args[0] ?? '')
      case 'ILN': case 'NLN': {
        const p = parsePresence(d, cmd.args)
        if (p === null) return
        const prev = this.contacts.get(p.account.toLowerCase())
        const state: ContactState = { ...p, name: decodeWireText(p.name), psm: prev?.psm ?? null }
        this.contacts.set(p.account.toLowerCase(), state)
        return this.record('presence', { ...state, initial: cmd.verb === 'ILN' })
      }
      case 'FLN': {
        const account = stripNetworkId(cmd.args[0] ?? '')
        const c = this.contacts.get(account.toLowerCase())
        if (c !== undefined) c.status = 'FLN'
        return this.record('offline', { account })
      }
      case 'UBX': {
        const account = stripNetworkId(cmd.args[0] ?? '')
        const psm = psmOf(cmd.payloadRaw ?? Buffer.alloc(0)) ?? ''
        const c = this.contacts.get(account.toLowerCase())
        if (c !== undefined) c.psm = psm
        return this.record('psm', { account, psm })
      }
      case 'RNG':
        return void this.#answer(cmd.args).catch((error: Error) => this.record('chat-failed', { caller: cmd.args[4] ?? '', error }))
      case 'QNG':
        return this.#pingWaiters.shift()?.()
      case 'OUT':
        return this.record('signed-out', { reason: cmd.args[0] ?? '' })
    }
  }

  #answerChallenge(ch: Channel, challenge: string): void {
    const pid = productIdFor(this.dialect)
    const answer = expectedQry(this.dialect, challenge, pid) ?? ''
    ch.request('QRY', [pid], { payload: Buffer.from(answer, 'latin1') })
      .then(() => this.record('challenge', { challenge, answer }), () => {})
  }

  /** Leave every conversation, then OUT on the notification server; resolves when it has closed. */
  async logout(): Promise<void> {
    await Promise.allSettled([...this.chats].map((c) => c.leave()))
    const ch = this.#ns
    if (ch === null || ch.closed) return
    ch.postBare('OUT')
    await ch.conn.done
  }

  /** Drop every connection at once (a client that vanishes). */
  close(): void {
    for (const c of this.chats) c.close()
    this.#ns?.close()
  }
}
