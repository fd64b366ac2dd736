/**
 * One MSNP connection of the lab (server or client end): a socket, the project's decoder for
 * what the peer sends, and the encoder for what we send.
 *
 * Promises: bytes from the peer never throw out of here. A handler that throws, a line the
 * decoder cannot frame, a peer that stops reading while we queue more than `maxOutputBytes`,
 * or a peer idle for `idleTimeoutMs` ends this connection only, with a reason. `done` resolves
 * exactly once, with that reason, when the socket is gone.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { MsnpDecoder, type Limits } from '../protocol/decoder.js'
import { encodeCommand } from '../protocol/encoder.js'
import type { CommandEvent, MalformedEvent, Side } from '../protocol/events.js'

export interface WireOptions {
  /** who sends what we decode: 'client' on the server end, 'server' on a client */
  peer: Side
  dialect?: number | null
  limits?: Partial<Limits>
  /** bytes we may queue for a peer that does not read before we drop it (default 1 MiB) */
  maxOutputBytes?: number
  /** close after this long without a byte from the peer; 0 = never (default 0) */
  idleTimeoutMs?: number
}

export interface WireHandlers {
  command(cmd: CommandEvent): void
  /** a line the decoder could not use; the default ends the connection */
  malformed?(ev: MalformedEvent): void
  /** called for each command we send (for traffic counters) */
  sent?(verb: string): void
}

/** Lab defaults: generous for real traffic, small enough that no peer makes us hoard memory. */
export const LAB_LIMITS: Limits = { maxLine: 8192, maxPayload: 256 * 1024 }

const GRACE_MS = 2000

export class MsnpConnection {
  readonly decoder: MsnpDecoder
  readonly done: Promise<string>
  readonly remoteAddress: string
  readonly remotePort: number
  #closed = false
  #reason: string | null = null
  #resolveDone!: (reason: string) => void
  readonly #maxOutput: number

  constructor(readonly socket: Socket, options: WireOptions, readonly handlers: WireHandlers) {
    this.decoder = new MsnpDecoder(options.peer, {
      dialect: options.dialect ?? null,
      limits: { ...LAB_LIMITS, ...options.limits },
      decode: false,
    })
    this.remoteAddress = socket.remoteAddress ?? '?'
    this.remotePort = socket.remotePort ?? 0
    this.#maxOutput = options.maxOutputBytes ?? 1024 * 1024
    this.done = new Promise((resolve) => { this.#resolveDone = resolve })
    socket.setNoDelay(true)
    const idle = options.idleTimeoutMs ?? 0
    if (idle > 0) {
      socket.setTimeout(idle)
      socket.on('timeout', () => this.destroy('idle timeout'))
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => { if (this.#reason === null) this.#reason = `socket error: ${err.message}` })
    socket.on('end', () => { if (this.#reason === null) this.#reason = 'peer closed' })
    socket.on('close', () => {
      this.#closed = true
      this.#resolveDone(this.#reason ?? 'closed')
    })
  }

  get closed(): boolean { return this.#closed || this.socket.destroyed }
  /** Why the connection ended (or is ending), null while it is open. */
  get reason(): string | null { return this.#reason }

  /** The dialect the decoder uses for payload rules; a switchboard learns it from its cookie. */
  setDialect(dialect: number): void {
    this.decoder.dialectState.dialect = dialect
    this.decoder.dialectState.confirmed = true
  }

  /** Send one command. Returns false when the connection is already gone. */
  send(verb: string, trId: number | null, args: readonly (string | number)[], payload?: Buffer | string | null): boolean {
    if (this.closed || this.socket.writableEnded) return false
    const payloadRaw = payload === undefined || payload === null ? null : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
    const bytes = encodeCommand({ verb, trId, args: args.map(String), payloadRaw })
    this.handlers.sent?.(verb)
    this.socket.write(bytes)
    if (this.socket.writableLength > this.#maxOutput) {
      this.destroy(`peer not reading (${this.socket.writableLength} bytes queued)`)
      return false
    }
    return true
  }

  /** Finish sending what is queued, then close; a peer that never closes its side is cut after a grace period. */
  end(reason: string): void {
    if (this.closed || this.socket.writableEnded) return
    if (this.#reason === null) this.#reason = reason
    this.socket.end()
    const timer = setTimeout(() => this.socket.destroy(), GRACE_MS)
    timer.unref()
    this.socket.once('close', () => clearTimeout(timer))
  }

  destroy(reason: string): void {
    if (this.#reason === null) this.#reason = reason
    this.socket.destroy()
  }

  #onData(chunk: Buffer): void {
    if (this.closed) return
    try {
      for (const ev of this.decoder.push(chunk)) {
        if (this.closed || this.socket.writableEnded) return
        if (ev.kind === 'command') this.handlers.command(ev)
        else if (this.handlers.malformed !== undefined) this.handlers.malformed(ev)
        else this.destroy(`malformed input: ${ev.reason}`)
      }
    } catch (err) {
      this.destroy(`handler failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}

/** "host:port" to its parts; the port defaults to 1863 (redirects.md section 7). */
export function splitHostPort(addr: string): { host: string; port: number } | null {
  const i = addr.lastIndexOf(':')
  const host = i < 0 ? addr : addr.slice(0, i)
  const port = i < 0 ? 1863 : Number(addr.slice(i + 1))
  if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) return null
  return { host, port }
}

/** An error reply (`911 7`) or a refused request, as seen by a lab client. */
export class LabReplyError extends Error {
  override name = 'LabReplyError'
  constructor(readonly code: number | null, readonly request: string, message?: string) {
    super(message ?? `${request} failed${code === null ? '' : ` with error ${code}`}`)
  }
}

/**
 * An EventEmitter that remembers what it emitted, so a test can wait for an event that may
 * already have happened: `await chat.waitFor('text', (m) => m.text === 'hi')`.
 */
export class EventLog<E extends { [K in keyof E]: unknown }> extends EventEmitter {
  #history = new Map<keyof E, unknown[]>()
  #ended: string | null = null
  static readonly MAX_HISTORY = 1000

  protected record<K extends keyof E & string>(kind: K, value: E[K]): void {
    let list = this.#history.get(kind)
    if (list === undefined) { list = []; this.#history.set(kind, list) }
    list.push(value)
    if (list.length > EventLog.MAX_HISTORY) list.shift()
    this.emit(kind, value)
  }

  /** Everything of one kind emitted so far, oldest first. */
  seen<K extends keyof E & string>(kind: K): E[K][] {
    return [...(this.#history.get(kind) ?? [])] as E[K][]
  }

  /** After this, waits for events that have not happened reject instead of hanging. */
  protected endLog(reason: string): void {
    if (this.#ended !== null) return
    this.#ended = reason
    this.emit('log-ended', reason)
  }

  /** The first event of `kind` (matching `pred`) already emitted or still to come. */
  waitFor<K extends keyof E & string>(kind: K, pred: (value: E[K]) => boolean = () => true): Promise<E[K]> {
    for (const v of this.#history.get(kind) ?? []) if (pred(v as E[K])) return Promise.resolve(v as E[K])
    if (this.#ended !== null) return Promise.reject(new Error(`${kind}: never happened (${this.#ended})`))
    return new Promise((resolve, reject) => {
      const onEvent = (v: E[K]): void => {
        if (!pred(v)) return
        cleanup()
        resolve(v)
      }
      const onEnd = (reason: string): void => {
        cleanup()
        reject(new Error(`${kind}: never happened (${reason})`))
      }
      const cleanup = (): void => {
        this.off(kind, onEvent)
        this.off('log-ended', onEnd)
      }
      this.on(kind, onEvent)
      this.on('log-ended', onEnd)
    })
  }
}
