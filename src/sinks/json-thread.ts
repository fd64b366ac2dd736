/**
 * JSON lines rendered by a thread of their own (json-worker.ts), for `read --json` on large
 * captures. The importing thread frames commands and tracks sessions; each command crosses as its
 * line's head (sequence and time, and the number of its connection's head: kind, connection,
 * role, account and dialect, sent once for each change), its side, its dialect and its raw bytes,
 * and the worker decodes the fields and payload from those bytes and writes the rest of the line:
 * the same decoder on the same bytes gives the same command, so the text is exactly what
 * toJsonLine would have written (test/integration/json-thread.test.ts). Other events cross
 * as finished lines. The rendered text comes back in order and is written here, to any stream,
 * with its backpressure; a few batches at most are in flight.
 */
import type { Worker } from 'node:worker_threads'
import type { ScopeEvent } from '../events.js'
import { ensureDecoded, type Limits } from '../protocol/decoder.js'
import { startModuleWorker } from '../threads.js'
import { headRest, toJsonLine } from './json.js'

/** Item kinds in a batch. */
export const ITEM_LINE = 0
export const ITEM_COMMAND = 1
/** the rest of a head (after seq and ts), by number, for the commands that follow */
export const ITEM_HEAD = 2
/** the heads sent so far are forgotten */
export const ITEM_FORGET_HEADS = 3

export interface JsonWorkerData {
  raw: boolean
  limits: Partial<Limits>
}

/** What the head of a connection's commands was made of when it was last sent. */
interface SentHead { id: number; transport: string; client: string | null; server: string | null; role: string; account: string | null | undefined; dialect: number | null | undefined }

/** Connections whose heads both threads keep; beyond it they start again. */
const MAX_HEADS = 4096

/** What the worker sends back for each batch: the text of its lines, newline-terminated. */
export type JsonWorkerMessage = { type: 'text'; buf: ArrayBuffer; used: number } | { type: 'failed'; message: string }

/** Bytes of items per batch: each batch wakes the worker, so they are not small. */
const BATCH = 256 * 1024
const MAX_IN_FLIGHT = 4

export class JsonLineThread {
  readonly #worker: Worker
  #buf = Buffer.allocUnsafeSlow(2 * BATCH)
  #used = 0
  #inFlight = 0
  #failure: Error | null = null
  /** resolved when a batch comes back (or the worker fails) */
  #wake: (() => void) | null = null
  #drained: Promise<void> | null = null

  readonly #raw: boolean
  readonly #heads = new Map<string, SentHead>()
  #nextHead = 0
  readonly #maxHeads: number

  /** `maxHeads`: how many connections' heads are kept (the tests make it small) */
  constructor(readonly out: NodeJS.WritableStream, data: JsonWorkerData, maxHeads = MAX_HEADS) {
    this.#raw = data.raw
    this.#maxHeads = maxHeads
    this.#worker = startModuleWorker('json-worker', import.meta.url, data)
    this.#worker.on('message', (m: JsonWorkerMessage) => {
      if (m.type === 'failed') { this.#fail(new Error(`the JSON line writer failed: ${m.message}`)); return }
      this.#inFlight--
      this.#write(Buffer.from(m.buf, 0, m.used))
      this.#poke()
    })
    this.#worker.on('error', (err) => this.#fail(err))
    this.#worker.on('exit', (code) => this.#fail(new Error(`the JSON line writer exited (status ${code})`)))
  }

  /** One event, in order. */
  add(ev: ScopeEvent): void {
    if (ev.kind === 'command' && ev.action === 'pass' && ev.rule === undefined && ev.tags === undefined && ev.forwarded === undefined) {
      const head = this.#headOf(ev)
      const raw = ev.command.raw
      const ts = ev.ts
      this.#room(22 + 3 * ts.length + 4 + raw.length)
      let at = this.#used
      const b = this.#buf
      b[at] = ITEM_COMMAND
      b[at + 1] = ev.command.from === 'client' ? 0 : 1
      b.writeInt32LE(ev.command.dialect ?? -1, at + 2)
      b.writeDoubleLE(ev.seq, at + 6)
      b.writeUInt32LE(head, at + 14)
      const n = b.write(ts, at + 22)
      b.writeUInt32LE(n, at + 18)
      at += 22 + n
      b.writeUInt32LE(raw.length, at)
      raw.copy(b, at + 4)
      this.#used = at + 4 + raw.length
    } else {
      // a command framed without decoding (read --json frames only) is rendered here in full
      if (ev.kind === 'command') ensureDecoded(ev.command)
      const line = toJsonLine(ev, { raw: this.#raw })
      this.#room(5 + 3 * line.length)
      const b = this.#buf
      b[this.#used] = ITEM_LINE
      const n = b.write(line, this.#used + 5)
      b.writeUInt32LE(n, this.#used + 1)
      this.#used += 5 + n
    }
    if (this.#used >= BATCH) this.#send()
  }

  /** The number of the command's head, sent first when its connection has none or a changed one. */
  #headOf(ev: ScopeEvent): number {
    const h = this.#heads.get(ev.conn)
    if (h !== undefined && h.role === ev.role && h.account === ev.account && h.dialect === ev.dialect && h.server === ev.server && h.client === ev.client && h.transport === ev.transport) return h.id
    if (h === undefined && this.#heads.size >= this.#maxHeads) {
      this.#heads.clear()
      this.#room(1)
      this.#buf[this.#used++] = ITEM_FORGET_HEADS
    }
    const id = this.#nextHead++
    this.#heads.set(ev.conn, { id, transport: ev.transport, client: ev.client, server: ev.server, role: ev.role, account: ev.account, dialect: ev.dialect })
    const text = headRest(ev)
    this.#room(9 + 3 * text.length)
    const b = this.#buf
    b[this.#used] = ITEM_HEAD
    b.writeUInt32LE(id, this.#used + 1)
    const n = b.write(text, this.#used + 9)
    b.writeUInt32LE(n, this.#used + 5)
    this.#used += 9 + n
    return id
  }

  /** Wait while too much is in flight or the output wants to drain. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#failure !== null) throw this.#failure
      if (this.#inFlight < MAX_IN_FLIGHT) break
      await new Promise<void>((resolve) => { this.#wake = resolve })
    }
    if (this.#drained !== null) await this.#drained
  }

  /** Everything added is rendered and written; the thread ends. */
  async finish(): Promise<void> {
    this.#send()
    try {
      while (this.#inFlight > 0) {
        if (this.#failure !== null) throw this.#failure
        await new Promise<void>((resolve) => { this.#wake = resolve })
      }
      if (this.#failure !== null) throw this.#failure
      if (this.#drained !== null) await this.#drained
    } finally {
      await this.close()
    }
  }

  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit')
    await this.#worker.terminate()
  }

  #room(n: number): void {
    if (this.#used + n <= this.#buf.length) return
    this.#send()
    if (n > this.#buf.length) this.#buf = Buffer.allocUnsafeSlow(n)
  }

  #send(): void {
    if (this.#used === 0) return
    const buf = this.#buf.buffer
    const used = this.#used
    this.#buf = Buffer.allocUnsafeSlow(2 * BATCH)
    this.#used = 0
    this.#inFlight++
    this.#worker.postMessage({ buf, used }, [buf])
  }

  #write(text: Buffer): void {
    // a reader that went away (EPIPE after `| head`) takes nothing more: the import stops on its own signal
    if ((this.out as NodeJS.WritableStream & { destroyed?: boolean }).destroyed === true) return
    if (this.out.write(text)) return
    this.#drained ??= new Promise((resolve) => {
      const done = (): void => {
        this.out.off('drain', done)
        this.out.off('close', done)
        this.out.off('error', done)
        this.#drained = null
        resolve()
      }
      this.out.on('drain', done)
      this.out.on('close', done)
      this.out.on('error', done)
    })
  }

  #fail(err: Error): void {
    this.#failure ??= err
    this.#poke()
  }

  #poke(): void {
    const w = this.#wake
    this.#wake = null
    w?.()
  }
}
