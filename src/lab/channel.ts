/**
 * The client end of one lab connection (DS, NS or SB): numbers requests with TrIDs and pairs
 * each with its reply; everything else the server sends goes to an `async` callback. Replies
 * are matched by TrID and verb, so lines that share the TrID of a request (ILN after CHG, IRO
 * before ANS OK, numbered LST after SYN) reach the callback while the request waits for its own
 * verb. Error replies reject with `LabReplyError`; a closed connection rejects what is pending.
 */
import { connect } from 'node:net'
import type { CommandEvent } from '../protocol/events.js'
import { isErrorVerb } from '../protocol/verbs.js'
import { LabReplyError, MsnpConnection } from './wire.js'

/** Commands one client sent and received, over all its connections. */
export interface TrafficStats {
  sent: number
  received: number
  sentByVerb: Record<string, number>
  receivedByVerb: Record<string, number>
}

export const newTrafficStats = (): TrafficStats => ({ sent: 0, received: 0, sentByVerb: {}, receivedByVerb: {} })

/** How a lab client reaches a server: TCP when absent, or another transport (the HTTP gateway). */
export interface LabTransport {
  /** a socket-like byte stream to the server the client would have connected to */
  connect(target: { role: 'DS' | 'NS' | 'SB'; host: string; port: number }): Promise<import('node:net').Socket>
  /** 'polling': the transport keeps the session alive itself, so no PNG is sent */
  keepAlive?: 'polling'
}

export interface ChannelContext {
  label: string
  role?: 'DS' | 'NS' | 'SB'
  transport?: LabTransport | undefined
  dialect: number
  stats: TrafficStats
  log?: ((line: string) => void) | undefined
}

interface Pending {
  verb: string
  expect: ReadonlySet<string>
  resolve: (cmd: CommandEvent) => void
  reject: (err: Error) => void
}

const firstLine = (raw: Buffer): string => {
  const end = raw.indexOf('\r\n')
  const line = (end < 0 ? raw : raw.subarray(0, end)).toString('utf8')
  return line.length > 160 ? `${line.slice(0, 157)}...` : line
}

export class Channel {
  readonly conn: MsnpConnection
  #trId = 0
  readonly #pending = new Map<number, Pending>()
  onAsync: (cmd: CommandEvent) => void = () => {}

  private constructor(socket: import('node:net').Socket, readonly ctx: ChannelContext) {
    this.conn = new MsnpConnection(socket, { peer: 'server', dialect: ctx.dialect }, {
      command: (cmd) => this.#onCommand(cmd),
      sent: (verb) => {
        ctx.stats.sent++
        ctx.stats.sentByVerb[verb] = (ctx.stats.sentByVerb[verb] ?? 0) + 1
      },
    })
    void this.conn.done.then((reason) => {
      ctx.log?.(`${ctx.label} closed (${reason})`)
      for (const p of this.#pending.values()) p.reject(new LabReplyError(null, p.verb, `${p.verb}: connection closed (${reason})`))
      this.#pending.clear()
    })
  }

  static open(host: string, port: number, ctx: ChannelContext): Promise<Channel> {
    if (ctx.transport !== undefined) return ctx.transport.connect({ role: ctx.role ?? 'NS', host, port }).then((socket) => new Channel(socket, ctx))
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        ctx.log?.(`${ctx.label} connected to ${host}:${port}`)
        resolve(new Channel(socket, ctx))
      })
    })
  }

  get closed(): boolean { return this.conn.closed }

  #onCommand(cmd: CommandEvent): void {
    const stats = this.ctx.stats
    stats.received++
    stats.receivedByVerb[cmd.verb] = (stats.receivedByVerb[cmd.verb] ?? 0) + 1
    this.ctx.log?.(`${this.ctx.label} << ${firstLine(cmd.raw)}`)
    const p = cmd.trId === null ? undefined : this.#pending.get(cmd.trId)
    if (p !== undefined && cmd.trId !== null) {
      if (isErrorVerb(cmd.verb)) {
        this.#pending.delete(cmd.trId)
        return p.reject(new LabReplyError(Number(cmd.verb), p.verb))
      }
      if (p.expect.has(cmd.verb)) {
        this.#pending.delete(cmd.trId)
        return p.resolve(cmd)
      }
    }
    this.onAsync(cmd)
  }

  /** Send a command with the next TrID, without waiting for anything. Returns the TrID. */
  post(verb: string, args: readonly (string | number)[], payload?: Buffer): number {
    const trId = ++this.#trId
    this.#write(verb, trId, args, payload)
    return trId
  }

  /** Send a command without TrID (PNG, OUT). */
  postBare(verb: string, args: readonly string[] = []): void {
    this.#write(verb, null, args)
  }

  #write(verb: string, trId: number | null, args: readonly (string | number)[], payload?: Buffer): void {
    const ok = this.conn.send(verb, trId, args, payload)
    if (ok) this.ctx.log?.(`${this.ctx.label} >> ${[verb, ...(trId === null ? [] : [trId]), ...args, ...(payload === undefined ? [] : [payload.length])].join(' ')}`)
  }

  /** Send a command and wait for the reply with its TrID and one of the `expect` verbs (default: its own). */
  request(verb: string, args: readonly (string | number)[], options: { payload?: Buffer; expect?: readonly string[] } = {}): Promise<CommandEvent> {
    if (this.conn.closed) return Promise.reject(new LabReplyError(null, verb, `${verb}: connection closed`))
    return new Promise((resolve, reject) => {
      const trId = this.#trId + 1
      this.#pending.set(trId, { verb, expect: new Set(options.expect ?? [verb]), resolve, reject })
      this.post(verb, args, options.payload)
    })
  }

  close(): void {
    this.conn.destroy('closed by the client')
  }
}
