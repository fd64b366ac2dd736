/**
 * Server replay: a fake dispatch, notification and switchboard server on one listener, built
 * from a recording. Each incoming connection is paired with a recorded one (switchboards by the
 * cookie of their first command, the others by their first commands and the account they name),
 * and each client command with the next recorded one of the same verb. The server commands
 * recorded after it are sent back with the live TrIDs; XFR and RNG point at this listener, so a
 * client stays here for every connection of its session.
 *
 * A command the recording cannot answer becomes an `unmatched` event and gets the configured
 * reply (an error code, the end of the connection, or nothing). Nothing a client sends ends
 * anything but its own connection.
 */
import net from 'node:net'
import { MsnpDecoder, type DialectState, type Limits } from '../protocol/decoder.js'
import { encodeCommand } from '../protocol/encoder.js'
import type { CommandEvent } from '../protocol/events.js'
import { MsnscopeError } from '../errors.js'
import type { EventBase, EventSink } from '../events.js'
import { endpoint, EventHub } from '../transport/hub.js'
import { bareAccount } from '../session/tracker.js'
import { commandLine, paceDelay, referralOf, switchboardLogin, type PlannedConnection, type PlannedExpect, type ReplayPlan, type Speed } from './plan.js'

export type UnmatchedPolicy = { kind: 'error'; code: number } | { kind: 'close' } | { kind: 'ignore' }

export interface ServeOptions {
  listen: { host: string; port: number }
  /** host (or host:port) written into XFR and RNG; default the listening address (127.0.0.1 for a wildcard) */
  advertise?: string
  /** reply to a command the recording has no answer for (default: error 500) */
  unmatched?: UnmatchedPolicy
  speed?: Speed
  /** how many recorded commands a client may skip to find a match (default 16) */
  lookahead?: number
  sink?: EventSink
  hub?: EventHub
  limits?: Partial<Limits>
  /** drop a connection silent for this long; 0 never (default 10 minutes) */
  idleTimeoutMs?: number
}

interface ServeConn {
  id: string
  client: string | null
  server: string | null
  socket: net.Socket
  decoder: MsnpDecoder
  dialect: DialectState
  rec: PlannedConnection | null
  next: number
  liveTrIds: Map<number, number | null>
  /** paced output still to go */
  queue: { bytes: Buffer; delay: number; cmd: CommandEvent }[]
  flushing: boolean
  endAfterQueue: boolean
}

const ACCOUNT_VERBS = new Set(['USR', 'CVR'])

/** The account a VER-first login names: `USR t TWN I alice@...` or the CVR's last argument. */
function namedAccount(cmd: CommandEvent): string | null {
  const a = cmd.args
  if (cmd.verb === 'USR' && a[1] === 'I' && a[2] !== undefined) return bareAccount(a[2]).toLowerCase()
  if (cmd.verb === 'CVR' && a.length >= 8 && a[7]!.includes('@')) return bareAccount(a[7]!).toLowerCase()
  return null
}

export class ReplayServer {
  readonly hub: EventHub
  readonly #plan: ReplayPlan
  readonly #o: ServeOptions
  readonly #claimed = new Set<string>()
  readonly #conns = new Set<ServeConn>()
  #server: net.Server | null = null
  #advertise = ''

  constructor(plan: ReplayPlan, options: ServeOptions) {
    this.#plan = plan
    this.#o = options
    this.hub = options.hub ?? new EventHub()
    if (options.sink !== undefined) this.hub.addSink(options.sink)
  }

  get address(): { host: string; port: number } {
    const a = this.#server?.address()
    if (a === null || a === undefined || typeof a === 'string') throw new Error('the replay server is not listening')
    return { host: a.address, port: a.port }
  }

  /** The `host:port` handed out in XFR and RNG. */
  get advertised(): string { return this.#advertise }

  get connections(): number { return this.#conns.size }

  async start(): Promise<{ host: string; port: number }> {
    const server = net.createServer((socket) => this.#accept(socket))
    server.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new MsnscopeError('ELISTEN', `cannot listen on ${this.#o.listen.host}:${this.#o.listen.port}: ${err.code ?? err.message}`, { cause: err })))
      server.listen(this.#o.listen.port, this.#o.listen.host, () => resolve())
    })
    this.#server = server
    const { host, port } = this.address
    const adv = this.#o.advertise
    const wildcard = host === '0.0.0.0' || host === '::'
    if (adv === undefined) this.#advertise = `${wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`
    else this.#advertise = /:\d+$/.test(adv) && !/^[^[]*:.*:/.test(adv) ? adv : `${adv}:${port}`
    return this.address
  }

  async close(): Promise<void> {
    for (const c of this.#conns) c.socket.destroy()
    const s = this.#server
    if (s !== null && s.listening) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  #base(c: ServeConn): Omit<EventBase, 'seq' | 'ts'> {
    return {
      conn: c.id, transport: 'tcp', client: c.client, server: c.server,
      role: c.rec?.role ?? '?', account: c.rec?.account ?? null, dialect: c.dialect.dialect,
    }
  }

  #accept(socket: net.Socket): void {
    const dialect: DialectState = { dialect: null, confirmed: false }
    const c: ServeConn = {
      id: this.hub.nextConnId(), socket, dialect,
      client: endpoint(socket.remoteAddress, socket.remotePort), server: endpoint(socket.localAddress, socket.localPort), decoder: new MsnpDecoder('client', { dialect, limits: this.#o.limits ?? {} }),
      rec: null, next: 0, liveTrIds: new Map(), queue: [], flushing: false, endAfterQueue: false,
    }
    this.#conns.add(c)
    this.hub.emit({ ...this.#base(c), kind: 'session-open' })
    socket.setNoDelay(true)
    const idle = this.#o.idleTimeoutMs ?? 10 * 60_000
    if (idle > 0) socket.setTimeout(idle, () => socket.destroy())
    let reason = 'client closed'
    socket.on('error', (err: NodeJS.ErrnoException) => { reason = `socket error: ${err.code ?? err.message}` })
    socket.on('close', () => {
      this.#conns.delete(c)
      this.hub.emit({ ...this.#base(c), kind: 'session-close', reason })
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const ev of c.decoder.push(chunk)) {
          if (socket.destroyed) return
          if (ev.kind === 'command') this.#onCommand(c, ev)
          else this.hub.emit({ ...this.#base(c), kind: 'malformed', from: ev.from, code: ev.code, reason: ev.reason, raw: ev.raw })
        }
      } catch (err) {
        reason = `internal error: ${err instanceof Error ? err.message : String(err)}`
        socket.destroy()
      }
    })
  }

  // ---- pairing live connections with recorded ones -----------------------------------------

  #candidates(c: ServeConn, cmd: CommandEvent): PlannedConnection[] {
    const free = (p: PlannedConnection): boolean => p === c.rec || !this.#claimed.has(p.conn)
    let all = this.#plan.connections.filter(free)
    if (all.length === 0 && c.rec === null) {
      // every recorded connection has been served once: serve the recording again
      this.#claimed.clear()
      for (const other of this.#conns) if (other.rec !== null) this.#claimed.add(other.rec.conn)
      all = this.#plan.connections.filter(free)
    }
    return all.sort((x, y) => x.sends[0]!.seq - y.sends[0]!.seq)
  }

  #claim(c: ServeConn, cmd: CommandEvent): void {
    const login = switchboardLogin(cmd)
    const cands = this.#candidates(c, cmd)
    let pick: PlannedConnection | undefined
    if (login !== null) {
      pick = cands.find((p) => p.cookie === login.cookie) ?? cands.find((p) => p.sends[0]!.command.verb === cmd.verb && p.cookie !== undefined)
    } else {
      const same = cands.filter((p) => p.sends[0]!.command.verb === cmd.verb && p.cookie === undefined)
      pick = same.find((p) => p.sends[0]!.command.args.join(' ') === cmd.args.join(' ')) ?? same[0]
    }
    if (pick === undefined) return
    this.#take(c, pick, 0)
  }

  #take(c: ServeConn, p: PlannedConnection, next: number): void {
    if (c.rec !== null) this.#claimed.delete(c.rec.conn)
    this.#claimed.add(p.conn)
    const first = c.rec === null
    c.rec = p
    c.next = next
    if (p.dialect !== null && !c.dialect.confirmed) c.dialect.dialect = p.dialect
    if (first) this.#sendGroup(c, p.expects.filter((e) => e.after === -1 && !e.optional), null)
  }

  /** A login names its account: move to the recorded connection of that account if needed. */
  #recheck(c: ServeConn, cmd: CommandEvent): void {
    const account = namedAccount(cmd)
    const rec = c.rec
    if (account === null || rec === null) return
    const here = rec.sends.slice(c.next).find((s) => s.command.verb === cmd.verb && namedAccount(s.command) !== null)
    if (here !== undefined && namedAccount(here.command) === account) return
    for (const p of this.#candidates(c, cmd)) {
      if (p === rec || p.cookie !== undefined) continue
      const k = p.sends.findIndex((s) => s.command.verb === cmd.verb && namedAccount(s.command) === account)
      if (k < 0) continue
      this.#take(c, p, k)
      return
    }
  }

  // ---- answering ---------------------------------------------------------------------------

  #onCommand(c: ServeConn, cmd: CommandEvent): void {
    this.hub.emit({ ...this.#base(c), kind: 'command', command: cmd, action: 'pass' })
    if (c.rec === null) this.#claim(c, cmd)
    else if (ACCOUNT_VERBS.has(cmd.verb)) this.#recheck(c, cmd)
    const rec = c.rec
    if (rec === null) return this.#unmatched(c, cmd, 'no recorded connection begins with it')
    const sends = rec.sends
    const lookahead = this.#o.lookahead ?? 16
    let j = -1
    const end = cmd.verb === 'PNG' ? sends.length : Math.min(sends.length, c.next + lookahead)
    for (let k = c.next; k < end; k++) if (sends[k]!.command.verb === cmd.verb) { j = k; break }
    if (j < 0 && cmd.verb === 'PNG') {
      // keep-alives come at any time: answer them even where the recording has none
      const qng = rec.expects.find((e) => e.command.verb === 'QNG')
      this.#write(c, encodeCommand({ verb: 'QNG', trId: null, args: qng?.command.args ?? ['50'] }), null)
      return
    }
    if (j < 0) {
      const nextRec = sends[c.next]
      return this.#unmatched(c, cmd, nextRec === undefined ? `${rec.conn} has no more client commands` : `${rec.conn} expects ${commandLine(nextRec.command)} next`)
    }
    c.liveTrIds.set(j, cmd.trId)
    const out: PlannedExpect[] = []
    for (const e of rec.expects) {
      if (e.after < c.next || e.after > j || e.optional) continue
      // replies to recorded commands this client skipped are left out
      if (e.replyTo !== null && !c.liveTrIds.has(e.replyTo)) continue
      out.push(e)
    }
    const sent = sends[j]!
    c.next = j + 1
    this.#sendGroup(c, out, sent.tsMs)
    const last = c.next >= sends.length
    if (cmd.verb === 'OUT' || (last && rec.closedBy === 'server')) {
      c.endAfterQueue = true
      this.#flush(c)
    }
  }

  #unmatched(c: ServeConn, cmd: CommandEvent, why: string): void {
    const policy = this.#o.unmatched ?? { kind: 'error', code: 500 }
    const reply = policy.kind === 'error' ? `answered with error ${policy.code}` : policy.kind === 'close' ? 'connection closed' : 'ignored'
    this.hub.emit({ ...this.#base(c), kind: 'unmatched', detail: `${commandLine(cmd)}: ${why}; ${reply}` })
    if (policy.kind === 'error') this.#write(c, encodeCommand({ verb: String(policy.code).padStart(3, '0'), trId: cmd.trId ?? 0, args: [] }), null)
    else if (policy.kind === 'close') { c.endAfterQueue = true; this.#flush(c) }
  }

  /** The recorded server commands, with live TrIDs and our own address in referrals. */
  #sendGroup(c: ServeConn, group: PlannedExpect[], afterTsMs: number | null): void {
    let prevTs = afterTsMs
    for (const e of group) {
      const cmd = e.command
      const trId = e.replyTo !== null ? c.liveTrIds.get(e.replyTo) ?? cmd.trId : cmd.trId
      const args = [...cmd.args]
      const ref = referralOf(cmd)
      if (ref !== null) {
        if (cmd.verb === 'XFR') {
          args[1] = this.#advertise
          if (ref.kind === 'NS' && args[3] !== undefined && /:\d+$/.test(args[3])) args[3] = this.#advertise
        } else args[1] = this.#advertise
        this.hub.emit({ ...this.#base(c), kind: 'redirect', verb: cmd.verb, real: ref.target, handedOut: this.#advertise, note: 'recorded referral pointed at the replay server' })
      }
      const bytes = encodeCommand({ verb: cmd.verb, trId, args, payloadRaw: cmd.payloadRaw, ...(cmd.wire !== undefined ? { wire: cmd.wire } : {}) })
      const delay = prevTs === null ? 0 : paceDelay(this.#o.speed ?? 'fast', e.tsMs - prevTs)
      prevTs = e.tsMs
      c.queue.push({ bytes, delay, cmd })
    }
    this.#flush(c)
  }

  #flush(c: ServeConn): void {
    if (c.flushing) return
    while (c.queue.length > 0) {
      const item = c.queue[0]!
      if (item.delay > 0) {
        const wait = item.delay
        item.delay = 0
        c.flushing = true
        setTimeout(() => { c.flushing = false; this.#flush(c) }, wait)
        return
      }
      c.queue.shift()
      this.#write(c, item.bytes, item.cmd)
    }
    if (c.endAfterQueue && !c.socket.destroyed) c.socket.end()
  }

  #write(c: ServeConn, bytes: Buffer, recorded: CommandEvent | null): void {
    if (c.socket.destroyed || c.socket.writableEnded) return
    c.socket.write(bytes)
    const [ev] = new MsnpDecoder('server', { dialect: c.dialect.dialect }).push(bytes)
    if (ev !== undefined && ev.kind === 'command') this.hub.emit({ ...this.#base(c), kind: 'command', command: ev, action: recorded === null ? 'inject' : 'replay' })
  }
}

/** Start a server replay of `plan`; resolves once it listens. */
export async function startReplayServer(plan: ReplayPlan, options: ServeOptions): Promise<ReplayServer> {
  const server = new ReplayServer(plan, options)
  await server.start()
  return server
}
