/**
 * Client replay: sends the client side of a recording to a live server and compares what the
 * server answers with what was recorded.
 *
 * Every recorded connection is replayed at once, but each client step waits (1) for the steps
 * recorded before it on any connection, and (2) for the server commands recorded before it on
 * its own connection, so a callee's switchboard waits for the RNG its caller's CAL brings about.
 * TrIDs are renumbered from 1 per connection; XFR and RNG are followed to the addresses the
 * live server hands out, with its cookies; CHL is answered afresh with QRY; logins use the
 * credentials of the options where the recorded ones are stale (live-conn.ts substitutes them).
 * What it reports is in report.ts.
 *
 * Promises: nothing a server sends throws out of here; `done` resolves exactly once, after
 * every socket has closed, with a report of each connection and every difference. A difference
 * that makes the session impossible to complete (an error reply where the recording has none,
 * a closed connection, a reply that never comes) stops the whole replay.
 */
import net from 'node:net'
import { MsnpDecoder, type Limits } from '../protocol/decoder.js'
import { encodeCommand } from '../protocol/encoder.js'
import type { CommandEvent } from '../protocol/events.js'
import { MSMSGS_PRODUCT_ID, PRODUCT_KEYS, qryMd5, qryMsnp11 } from '../protocol/challenge.js'
import type { EventSink } from '../events.js'
import { endpoint, EventHub, splitHostPort, type PendingEvent } from '../transport/hub.js'
import { commandLine, loginAccount, paceDelay, referralOf, secretFor, type PlannedExpect, type PlannedSend, type ReplayPlan, type Secret, type Speed } from './plan.js'
import { compareCommands, isErrorVerb } from './compare.js'
import { learnFromServer, substitutedArgs, type LiveConn } from './live-conn.js'
import { passportLogin, rstLogin } from './login.js'
import { describeReply, diffText, type ConnectionReport, type DifferenceKind, type ReplayDifference, type ReplayReport, type ReplayRun } from './report.js'

export { diffText, type ConnectionReport, type DifferenceKind, type ReplayDifference, type ReplayReport, type ReplayRun } from './report.js'

export interface ClientReplayOptions {
  /** where the connections that were not referred by another one go (the DS or NS) */
  to: { host: string; port: number }
  speed?: Speed
  /** product id for QRY (default: the recording's, else one that fits the dialect) */
  productId?: string
  /** product key for a product id that is not in the published list */
  productKey?: string
  /** for MD5 logins (MSNP2-7) and logins through `loginUrl`: one for every account, or per account */
  password?: Secret
  /** a Passport ticket (`t=...&p=...`) for TWN and SSO logins: one for every account, or per account */
  ticket?: Secret
  /** base64 proof key (`BinarySecret`) to compute the SSO MBI response with `ticket` */
  proofKey?: string
  /** Passport 1.4 (TWN) or RST (SSO) login URL */
  loginUrl?: string
  /** how long the replay may stand still waiting for the server (default 10 s) */
  timeoutMs?: number
  /** events of the live connections (commands, session-open/close, replay-diff) */
  sink?: EventSink
  hub?: EventHub
  limits?: Partial<Limits>
  signal?: AbortSignal
}

const DEFAULT_TIMEOUT = 10_000

/** Start replaying; the run ends by itself, or early with `stop()`. */
export function replayClient(plan: ReplayPlan, options: ClientReplayOptions): ReplayRun {
  return new ClientReplay(plan, options)
}

class ClientReplay implements ReplayRun {
  readonly done: Promise<ReplayReport>
  readonly #o: ClientReplayOptions
  readonly #hub: EventHub
  readonly #conns: LiveConn[]
  readonly #byRecorded = new Map<string, LiveConn>()
  readonly #stepDone: Uint8Array
  #frontier = 0
  #differences: ReplayDifference[] = []
  #finished = false
  #failure: string | null = null
  #resolve!: (r: ReplayReport) => void
  #watchdog: NodeJS.Timeout | null = null
  #pacer: NodeJS.Timeout | null = null
  #lastStep: { tsMs: number; at: number } | null = null
  #pumping = false
  #again = false

  constructor(readonly plan: ReplayPlan, options: ClientReplayOptions) {
    this.#o = options
    this.#hub = options.hub ?? new EventHub()
    if (options.sink !== undefined) this.#hub.addSink(options.sink)
    this.#stepDone = new Uint8Array(plan.steps)
    this.#conns = plan.connections.map((p) => ({
      plan: p, phase: 'waiting', id: null, socket: null, dialect: { dialect: p.dialect, confirmed: p.dialect !== null && p.role === 'SB' },
      fromServer: null, fromClient: null, next: 0, expect: new Uint8Array(p.expects.length), liveTrIds: p.sends.map(() => null),
      bySent: new Map(), nextTrId: 1, preSent: new Set(), freshQry: new Set(), referral: null, login: null, credentials: null,
      sent: 0, received: 0, local: null, remote: null, endedAsRecorded: false, closedOk: false, socketError: null, closeWaiters: [],
    }))
    for (const c of this.#conns) this.#byRecorded.set(c.plan.conn, c)
    this.done = new Promise((resolve) => { this.#resolve = resolve })
    options.signal?.addEventListener('abort', () => this.stop('stopped'), { once: true })
    if (options.signal?.aborted === true) queueMicrotask(() => this.stop('stopped'))
    queueMicrotask(() => this.#pump())
    this.#arm()
  }

  stop(reason = 'stopped'): void {
    if (this.#finished) return
    this.#fail({ recordedConn: '-', liveConn: null, seq: null, what: 'stopped', detail: reason, fatal: true })
  }

  // ---- scheduling -------------------------------------------------------------------------

  #arm(): void {
    if (this.#watchdog !== null) clearTimeout(this.#watchdog)
    if (this.#finished) return
    this.#watchdog = setTimeout(() => this.#stalled(), this.#o.timeoutMs ?? DEFAULT_TIMEOUT)
    this.#watchdog.unref?.()
  }

  #markStep(order: number): void {
    this.#stepDone[order] = 1
    while (this.#frontier < this.#stepDone.length && this.#stepDone[this.#frontier] === 1) this.#frontier++
  }

  /** Let every connection do what it can; repeats until nothing moves. */
  #pump(): void {
    if (this.#finished) return
    if (this.#pumping) { this.#again = true; return }
    this.#pumping = true
    try {
      do {
        this.#again = false
        for (const c of this.#conns) {
          if (this.#finished) return
          this.#advance(c)
        }
      } while (this.#again && !this.#finished)
      if (!this.#finished && this.#conns.every((c) => c.phase === 'complete' || c.closedOk)) {
        void this.#finish(null)
      }
    } finally {
      this.#pumping = false
    }
  }

  #waitingExpects(c: LiveConn, beforeSend: number): boolean {
    const ex = c.plan.expects
    for (let i = 0; i < ex.length; i++) if (c.expect[i] === 0 && ex[i]!.after < beforeSend && !ex[i]!.optional) return true
    return false
  }

  #advance(c: LiveConn): void {
    const p = c.plan
    if (c.phase === 'waiting') {
      const first = p.sends[0]!
      if (this.#frontier < first.order) return
      if (p.opener.kind === 'referral' && c.referral === null) return
      this.#open(c)
      return
    }
    if (c.phase !== 'open') return
    while (c.next < p.sends.length && c.preSent.has(c.next)) c.next++
    if (c.next < p.sends.length) {
      const s = p.sends[c.next]!
      if (this.#frontier !== s.order) return
      if (this.#waitingExpects(c, s.index)) return
      if (!this.#paced(s.tsMs)) return
      if (!this.#credentialsReady(c, s)) return
      this.#send(c, s)
      this.#again = true
      return
    }
    if (this.#waitingExpects(c, p.sends.length)) return
    const close = p.clientClose
    if (close !== null) {
      if (this.#frontier !== close.order) return
      if (!this.#paced(close.tsMs)) return
      this.#markStep(close.order)
      this.#lastStep = { tsMs: close.tsMs, at: Date.now() }
      c.phase = 'complete'
      c.endedAsRecorded = true
      c.socket?.end()
      this.#again = true
      return
    }
    c.phase = 'complete'
    this.#again = true
  }

  /** True when the step may go now; otherwise a timer pumps again when it may. */
  #paced(tsMs: number): boolean {
    const speed = this.#o.speed ?? 'fast'
    if (speed === 'fast' || this.#lastStep === null) return true
    const wait = paceDelay(speed, tsMs - this.#lastStep.tsMs) - (Date.now() - this.#lastStep.at)
    if (wait <= 0) return true
    if (this.#pacer === null) {
      this.#pacer = setTimeout(() => { this.#pacer = null; this.#arm(); this.#pump() }, wait)
    }
    return false
  }

  // ---- connections ------------------------------------------------------------------------

  #open(c: LiveConn): void {
    const p = c.plan
    let target = this.#o.to
    if (p.opener.kind === 'referral' && c.referral !== null) target = { host: c.referral.host, port: c.referral.port }
    c.phase = 'connecting'
    c.id = this.#hub.nextConnId()
    const socket = net.connect({ host: target.host, port: target.port })
    c.socket = socket
    socket.setNoDelay(true)
    const limits = this.#o.limits ?? {}
    c.fromServer = new MsnpDecoder('server', { dialect: c.dialect, limits })
    c.fromClient = new MsnpDecoder('client', { dialect: c.dialect, limits })
    let connected = false
    socket.once('connect', () => {
      connected = true
      c.phase = 'open'
      c.local = endpoint(socket.localAddress, socket.localPort)
      c.remote = endpoint(socket.remoteAddress, socket.remotePort)
      const ev: PendingEvent = { ...this.#base(c), kind: 'session-open' }
      if (p.opener.kind === 'referral') {
        const parent = this.#byRecorded.get(p.opener.parent)?.id
        if (parent !== undefined && parent !== null) Object.assign(ev, { parent, via: p.opener.via })
      }
      this.#hub.emit(ev)
      this.#arm()
      this.#pump()
    })
    socket.on('data', (chunk: Buffer) => this.#onData(c, chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        this.#fail({ recordedConn: p.conn, liveConn: c.id, seq: null, what: 'connect', detail: `cannot connect to ${target.host}:${target.port}: ${err.code ?? err.message}`, fatal: true })
      } else c.socketError ??= `socket error: ${err.code ?? err.message}`
    })
    socket.on('close', () => this.#onClose(c))
  }

  #base(c: LiveConn): Omit<import('../events.js').EventBase, 'seq' | 'ts'> {
    return {
      conn: c.id ?? '-', transport: 'tcp', client: c.local, server: c.remote,
      role: c.plan.role, account: c.plan.account, dialect: c.dialect.dialect,
    }
  }

  #onData(c: LiveConn, chunk: Buffer): void {
    if (this.#finished || c.fromServer === null) return
    try {
      for (const ev of c.fromServer.push(chunk)) {
        if (this.#finished) return
        if (ev.kind === 'command') this.#onServer(c, ev)
        else this.#hub.emit({ ...this.#base(c), kind: 'malformed', from: ev.from, code: ev.code, reason: ev.reason, raw: ev.raw })
      }
    } catch (err) {
      this.#fail({ recordedConn: c.plan.conn, liveConn: c.id, seq: null, what: 'unexpected', detail: `could not handle the server's bytes: ${err instanceof Error ? err.message : String(err)}`, fatal: true })
    }
    this.#pump()
  }

  #onClose(c: LiveConn): void {
    const wasOpen = c.phase === 'open' || c.phase === 'connecting'
    const done = c.phase === 'complete'
    c.phase = 'closed'
    if (c.id !== null) this.#hub.emit({ ...this.#base(c), kind: 'session-close', reason: c.reason ?? c.socketError ?? (c.endedAsRecorded ? 'client closed' : done || this.#finished ? 'replay finished' : 'server closed') })
    for (const w of c.closeWaiters.splice(0)) w()
    if (done) c.closedOk = true
    if (this.#finished || !wasOpen) { this.#pump(); return }
    // The server hung up: fine when nothing more was to be sent or received.
    const p = c.plan
    while (c.next < p.sends.length && c.preSent.has(c.next)) c.next++
    const unsent = p.sends.length - c.next
    const waiting = p.expects.filter((e, i) => c.expect[i] === 0 && e.after < c.next && !e.optional)
    if (unsent > 0 || waiting.some((e) => e.replyTo !== null)) {
      const what = unsent > 0 ? `${unsent} recorded command${unsent === 1 ? '' : 's'} not sent` : `no reply to ${commandLine(p.sends[waiting.find((e) => e.replyTo !== null)!.replyTo!]!.command)}`
      c.reason = `server closed the connection: ${what}`
      this.#fail({ recordedConn: p.conn, liveConn: c.id, seq: p.sends[c.next]?.seq ?? null, what: 'closed', detail: c.reason, fatal: true })
      return
    }
    for (const e of waiting) this.#giveUp(c, e, 'the server closed the connection before it came')
    c.closedOk = true
    // the server hung up before the recorded client did: that step is done
    if (p.clientClose !== null) this.#markStep(p.clientClose.order)
    this.#pump()
  }

  // ---- sending ----------------------------------------------------------------------------

  #credentialsReady(c: LiveConn, s: PlannedSend): boolean {
    const sub = s.substitution
    if (sub !== 'twn-ticket' && sub !== 'sso-login') return true
    const o = this.#o
    const account = loginAccount(c.plan)
    if (o.loginUrl === undefined || secretFor(o.ticket, account) !== undefined) return true
    if (c.credentials !== null) return true
    if (c.login !== null) return false
    const password = secretFor(o.password, account)
    if (account === null || password === undefined) {
      this.#difference(c, s.seq, 'credentials', `cannot log in at ${o.loginUrl}: ${account === null ? 'the recording does not name the account' : 'no --password given'}; the recorded (stale) credentials are sent`, false)
      c.credentials = { ticket: '' }
      return true
    }
    const login = sub === 'twn-ticket'
      ? passportLogin(o.loginUrl, account, password, c.twnParams ?? s.command.args[2] ?? '')
      : rstLogin(o.loginUrl, account, password, c.ssoPolicy ?? 'MBI_KEY_OLD')
    c.login = login.then((r) => { c.credentials = r; this.#arm(); this.#pump() }, (err: unknown) => {
      this.#fail({ recordedConn: c.plan.conn, liveConn: c.id, seq: s.seq, what: 'credentials', detail: err instanceof Error ? err.message : String(err), fatal: true })
    })
    return false
  }

  #send(c: LiveConn, s: PlannedSend): void {
    this.#markStep(s.order)
    c.next = s.index + 1
    this.#lastStep = { tsMs: s.tsMs, at: Date.now() }
    if (s.substitution === 'qry') {
      // The recorded answer belongs to the recorded challenge; a live CHL is answered on arrival.
      this.#difference(c, s.seq, 'missing', 'no live CHL to answer: the recorded QRY is not sent', false, commandLine(s.command))
      for (const e of c.plan.expects) if (e.replyTo === s.index && c.expect[e.index] === 0) c.expect[e.index] = 2
      return
    }
    const trId = s.command.trId === null ? null : c.nextTrId++
    c.liveTrIds[s.index] = trId
    if (trId !== null) c.bySent.set(trId, s.index)
    const cmd = s.command
    const bytes = encodeCommand({ verb: cmd.verb, trId, args: substitutedArgs(c, s, this.#o, (detail) => this.#difference(c, s.seq, 'credentials', detail, false)), payloadRaw: cmd.payloadRaw, ...(cmd.wire !== undefined ? { wire: cmd.wire } : {}) })
    this.#write(c, bytes)
    this.#arm()
  }

  #write(c: LiveConn, bytes: Buffer): void {
    const socket = c.socket
    if (socket === null || socket.destroyed) return
    socket.write(bytes)
    c.sent++
    for (const ev of c.fromClient?.push(bytes) ?? []) {
      if (ev.kind === 'command') this.#hub.emit({ ...this.#base(c), kind: 'command', command: ev, action: 'replay' })
    }
  }

  // ---- receiving --------------------------------------------------------------------------

  #onServer(c: LiveConn, cmd: CommandEvent): void {
    c.received++
    this.#hub.emit({ ...this.#base(c), kind: 'command', command: cmd, action: 'pass' })
    this.#arm()
    learnFromServer(c, cmd)
    if (cmd.verb === 'CHL') this.#answerChallenge(c, cmd)
    const p = c.plan
    const ex = p.expects
    // 1. an expected command whose turn has come
    for (let i = 0; i < ex.length; i++) {
      const e = ex[i]!
      if (c.expect[i] !== 0 || e.after >= c.next || e.command.verb !== cmd.verb) continue
      if (!this.#trIdFits(c, e, cmd)) continue
      return this.#matched(c, e, cmd)
    }
    // 2. an unsolicited command that came earlier than in the recording
    if (cmd.trId === null || cmd.trId === 0) {
      for (let i = 0; i < ex.length; i++) {
        const e = ex[i]!
        if (c.expect[i] !== 0 || e.replyTo !== null || e.command.verb !== cmd.verb || e.command.trId !== cmd.trId) continue
        if (compareCommands(e.command, cmd).length > 0) continue
        return this.#matched(c, e, cmd)
      }
    }
    // 3. a reply to a command we sent, but not the recorded one
    const sentIndex = cmd.trId === null ? undefined : c.bySent.get(cmd.trId)
    if (sentIndex !== undefined) {
      const e = ex.find((x, i) => c.expect[i] === 0 && x.replyTo === sentIndex && x.after < c.next)
      const sent = p.sends[sentIndex]!
      const error = isErrorVerb(cmd.verb)
      if (e !== undefined) {
        c.expect[e.index] = 1
        const fatal = error || isErrorVerb(e.command.verb)
        const detail = `${describeReply(cmd)} instead of ${commandLine(e.command, c.liveTrIds[sentIndex] ?? null)} in reply to ${commandLine(sent.command, c.liveTrIds[sentIndex] ?? null)}`
        this.#difference(c, e.seq, error ? 'error' : 'verb', detail, fatal, commandLine(e.command, c.liveTrIds[sentIndex] ?? null), commandLine(cmd))
        return
      }
      if (error) {
        return this.#difference(c, sent.seq, 'error', `${describeReply(cmd)} in reply to ${commandLine(sent.command, c.liveTrIds[sentIndex] ?? null)}, which the recording answered without error`, true, undefined, commandLine(cmd))
      }
    }
    if (cmd.trId !== null && c.freshQry.has(cmd.trId)) {
      if (isErrorVerb(cmd.verb)) this.#difference(c, null, 'error', `${describeReply(cmd)} in reply to a challenge answer`, true, undefined, commandLine(cmd))
      return
    }
    if (isErrorVerb(cmd.verb)) return this.#difference(c, null, 'error', `unexpected ${describeReply(cmd)}`, true, undefined, commandLine(cmd))
    if (cmd.verb === 'CHL') return this.#difference(c, null, 'unexpected', `a challenge the recording does not have (answered afresh)`, false, undefined, commandLine(cmd))
    if (cmd.verb === 'QNG') return
    this.#difference(c, null, 'unexpected', `${cmd.verb} that the recording does not have at this point`, false, undefined, commandLine(cmd))
  }

  #trIdFits(c: LiveConn, e: PlannedExpect, cmd: CommandEvent): boolean {
    if (e.replyTo !== null) return c.liveTrIds[e.replyTo] === cmd.trId
    return e.command.trId === cmd.trId
  }

  #matched(c: LiveConn, e: PlannedExpect, cmd: CommandEvent): void {
    c.expect[e.index] = 1
    const expectedTrId = e.replyTo !== null ? c.liveTrIds[e.replyTo] ?? null : e.command.trId
    for (const d of compareCommands(e.command, cmd, expectedTrId)) {
      this.#difference(c, e.seq, d.what, `${commandLine(e.command, expectedTrId)}: ${d.detail}`, false, commandLine(e.command, expectedTrId), commandLine(cmd))
    }
    // a referral whose connection is replayed: open it where the live server says
    for (const child of this.#conns) {
      const o = child.plan.opener
      if (o.kind !== 'referral' || o.parent !== c.plan.conn || o.expect !== e.index) continue
      const ref = referralOf(cmd)
      const hp = ref === null ? null : splitHostPort(ref.target)
      if (ref === null || hp === null) {
        this.#fail({ recordedConn: child.plan.conn, liveConn: null, seq: e.seq, what: 'unexpected', detail: `the live ${cmd.verb} has no usable address: ${commandLine(cmd)}`, fatal: true })
        return
      }
      child.referral = { host: hp.host, port: hp.port, ...(ref.cookie !== undefined ? { cookie: ref.cookie } : {}), ...(ref.sessionId !== undefined ? { sessionId: ref.sessionId } : {}) }
    }
  }

  // C: QRY 11 PROD0090YUAUV{2B 32 + 32 hex digits, in answer to S: CHL 0 22210219642164014968
  #answerChallenge(c: LiveConn, chl: CommandEvent): void {
    const challenge = chl.args[0]
    if (challenge === undefined) return
    const dialect = c.dialect.dialect ?? c.plan.dialect ?? 8
    const productId = this.#o.productId ?? this.plan.productId ?? (dialect >= 11 ? 'PROD0090YUAUV{2B' : MSMSGS_PRODUCT_ID)
    const key = this.#o.productKey ?? PRODUCT_KEYS.get(productId)
    if (key === undefined) {
      this.#difference(c, null, 'credentials', `no product key known for ${productId}: give --product-key or another --product-id`, true)
      return
    }
    const answer = dialect <= 10 ? qryMd5(challenge, key) : qryMsnp11(challenge, productId, key)
    const trId = c.nextTrId++
    // the recorded QRY that answered the recorded challenge is replaced by this one
    const s = c.plan.sends.find((x) => x.index >= c.next && x.substitution === 'qry' && !c.preSent.has(x.index))
    if (s !== undefined) {
      c.preSent.add(s.index)
      c.liveTrIds[s.index] = trId
      c.bySent.set(trId, s.index)
      this.#markStep(s.order)
    } else c.freshQry.add(trId)
    this.#write(c, encodeCommand({ verb: 'QRY', trId, args: [productId], payloadRaw: Buffer.from(answer, 'latin1') }))
  }

  // ---- outcomes ---------------------------------------------------------------------------

  #difference(c: LiveConn, seq: number | null, what: DifferenceKind, detail: string, fatal: boolean, expected?: string, actual?: string): void {
    const d: ReplayDifference = { recordedConn: c.plan.conn, liveConn: c.id, seq, what, detail, fatal }
    if (expected !== undefined) d.expected = expected
    if (actual !== undefined) d.actual = actual
    if (fatal) this.#fail(d)
    else this.#record(d, c)
  }

  #record(d: ReplayDifference, c: LiveConn | null): void {
    this.#differences.push(d)
    const ev: PendingEvent = c !== null && c.id !== null
      ? { ...this.#base(c), kind: 'replay-diff', detail: diffText(d) }
      : { conn: d.liveConn ?? '-', transport: 'tcp', client: null, server: null, role: '?', kind: 'replay-diff', detail: diffText(d) }
    if (d.expected !== undefined) Object.assign(ev, { expected: d.expected })
    if (d.actual !== undefined) Object.assign(ev, { actual: d.actual })
    this.#hub.emit(ev)
  }

  #giveUp(c: LiveConn, e: PlannedExpect, why: string): void {
    c.expect[e.index] = 2
    const trId = e.replyTo !== null ? c.liveTrIds[e.replyTo] ?? null : e.command.trId
    this.#difference(c, e.seq, 'missing', `${commandLine(e.command, trId)} never came: ${why}`, false, commandLine(e.command, trId))
  }

  /** Nothing moved for `timeoutMs`: give up on unsolicited commands; a missing reply ends the replay. */
  #stalled(): void {
    if (this.#finished) return
    // a recorded pause (--speed recorded) is not the server standing still
    if (this.#pacer !== null) { this.#arm(); return }
    const secs = `${((this.#o.timeoutMs ?? DEFAULT_TIMEOUT) / 1000).toFixed(1)} s`
    let moved = false
    for (const c of this.#conns) {
      if (c.phase !== 'open') continue
      const limit = c.next < c.plan.sends.length ? c.next : c.plan.sends.length
      for (const e of c.plan.expects) {
        if (c.expect[e.index] !== 0 || e.after >= limit || e.optional) continue
        if (e.replyTo !== null) {
          const sent = c.plan.sends[e.replyTo]!
          const trId = c.liveTrIds[e.replyTo] ?? null
          this.#difference(c, e.seq, 'missing', `no ${describeReply(e.command)} in reply to ${commandLine(sent.command, trId)} within ${secs}`, true, commandLine(e.command, trId))
          return
        }
        this.#giveUp(c, e, `nothing for ${secs}`)
        moved = true
      }
    }
    if (this.#finished) return
    if (this.#conns.some((c) => c.login !== null && c.credentials === null)) { this.#arm(); return }
    if (!moved) {
      const waiting = this.#conns.find((c) => c.phase === 'waiting' && c.plan.opener.kind === 'referral')
      const detail = waiting !== undefined
        ? `${waiting.plan.conn} was never referred to (its ${waiting.plan.opener.kind === 'referral' ? waiting.plan.opener.via : 'referral'} did not come within ${secs})`
        : `the replay stood still for ${secs}`
      this.#fail({ recordedConn: waiting?.plan.conn ?? '-', liveConn: null, seq: null, what: 'missing', detail, fatal: true })
      return
    }
    this.#arm()
    this.#pump()
  }

  #fail(d: ReplayDifference): void {
    if (this.#finished) return
    const c = this.#byRecorded.get(d.recordedConn) ?? null
    if (c !== null) c.reason ??= d.detail
    this.#record(d, c)
    void this.#finish(d.detail)
  }

  async #finish(failure: string | null): Promise<void> {
    if (this.#finished) return
    this.#finished = true
    this.#failure = failure
    if (this.#watchdog !== null) clearTimeout(this.#watchdog)
    if (this.#pacer !== null) clearTimeout(this.#pacer)
    const closing: Promise<void>[] = []
    for (const c of this.#conns) {
      const s = c.socket
      if (s === null || s.destroyed || c.phase === 'closed') continue
      closing.push(new Promise<void>((resolve) => c.closeWaiters.push(resolve)))
      if (failure === null) {
        s.end()
        const t = setTimeout(() => s.destroy(), 1000)
        t.unref()
      } else s.destroy()
    }
    await Promise.all(closing)
    this.#resolve(this.#report())
  }

  #report(): ReplayReport {
    const connections = this.#conns.map((c): ConnectionReport => {
      const completed = this.#failure === null || c.phase === 'complete' || c.closedOk
      const r: ConnectionReport = { recorded: c.plan.conn, live: c.id, sent: c.sent, received: c.received, completed }
      const reason = c.reason ?? (c.id === null && !completed ? 'never opened' : undefined)
      if (reason !== undefined) r.reason = reason
      return r
    })
    return { completed: this.#failure === null, reason: this.#failure, connections, differences: this.#differences }
  }
}
