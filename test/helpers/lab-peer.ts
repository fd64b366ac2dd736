/** A raw MSNP client socket for tests: write exact bytes, read the server's commands one by one. */
import { connect, type Socket } from 'node:net'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent } from '../../src/protocol/events.js'

export class WirePeer {
  readonly decoder: MsnpDecoder
  readonly closed: Promise<void>
  /** our port, as the server sees it */
  readonly localPort: number
  #queue: CommandEvent[] = []
  #waiters: { resolve: (c: CommandEvent) => void; reject: (e: Error) => void }[] = []
  #ended = false
  #problem: string | null = null

  private constructor(readonly socket: Socket, dialect: number | null) {
    this.decoder = new MsnpDecoder('server', { dialect, decode: false })
    this.localPort = socket.localPort ?? 0
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.decoder.push(chunk)) {
        if (ev.kind === 'command') this.#deliver(ev)
        else this.#problem = `server sent a malformed line: ${ev.reason}`
      }
    })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.#ended = true
      for (const w of this.#waiters.splice(0)) w.reject(new Error(this.#problem ?? 'connection closed'))
      resolve()
    }))
  }

  static connect(host: string, port: number, dialect: number | null = null): Promise<WirePeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new WirePeer(socket, dialect))
      })
    })
  }

  get ended(): boolean { return this.#ended }

  #deliver(cmd: CommandEvent): void {
    const w = this.#waiters.shift()
    if (w !== undefined) w.resolve(cmd)
    else this.#queue.push(cmd)
  }

  write(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes)
  }

  /** The next command from the server (rejects once the connection is closed and nothing is left). */
  next(): Promise<CommandEvent> {
    const c = this.#queue.shift()
    if (c !== undefined) return Promise.resolve(c)
    if (this.#ended) return Promise.reject(new Error(this.#problem ?? 'connection closed'))
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Commands until one with this verb (and TrID, when given); returns all of them, that one last. */
  async until(verb: string, trId?: number): Promise<CommandEvent[]> {
    const out: CommandEvent[] = []
    for (;;) {
      const c = await this.next()
      out.push(c)
      if (c.verb === verb && (trId === undefined || c.trId === trId)) return out
    }
  }

  /** Commands received and not yet read. */
  pending(): CommandEvent[] { return [...this.#queue] }

  close(): void { this.socket.destroy() }
}
