/**
 * The importing side of the reader thread (capture-reader-worker.ts): a large capture file is
 * read, decompressed and split into records on one core while this thread reassembles, decodes
 * and tracks sessions on another. The records arrive in order, packed in batches, so the
 * pipeline sees exactly what it would have read itself.
 */
import type { Worker } from 'node:worker_threads'
import type { ErrorCode } from '../errors.js'
import type { CaptureRecord, ReadIssue } from '../pcap/pcap-file.js'
import { startModuleWorker } from '../threads.js'
import type { RecordSink } from './capture-read.js'

/** Bytes before each record's data in a batch: tsUs (f64), linkType, origLength, length (u32, little-endian). */
export const RECORD_HEADER = 20

/** What the reader thread is started with. */
export interface ReaderRequest {
  source: string
  name: string
  /** bytes per read from the file */
  readBytes: number
  /** size of a batch of records */
  batchBytes: number
  /** batches sent but not yet used up, at most */
  maxInFlight: number
  /**
   * [0]: batches used up by the importing thread, [1]: 1 once it wants no more, [2]: the count of
   * [0] the reader waits for (0: it is not waiting)
   */
  credit: Int32Array
}

/** What the reader thread sends, in this order: batches, then one of the others. */
export type ReaderMessage =
  | { type: 'batch'; buf: ArrayBuffer; used: number; count: number; bytesRead: number; total: number | null }
  /** a saved JSONL file: read it in the importing thread */
  | { type: 'jsonl' }
  /** the file cannot be read at all */
  | { type: 'error'; code: ErrorCode; message: string }
  /** the reader itself broke */
  | { type: 'failed'; message: string }
  | { type: 'end'; format: 'pcap' | 'pcapng'; gzip: boolean; linkTypes: number[]; records: number; bytesRead: number; issue: ReadIssue | null }

/** The records of a batch into `sink`, one record object refilled for each. */
export function unpackBatch(buf: ArrayBuffer, used: number, count: number, sink: RecordSink): void {
  const view = new DataView(buf)
  const bytes = Buffer.from(buf, 0, used)
  const rec: CaptureRecord = { linkType: 0, tsUs: 0, data: bytes, origLength: 0 }
  let at = 0
  for (let i = 0; i < count; i++) {
    const len = view.getUint32(at + 16, true)
    rec.tsUs = view.getFloat64(at, true)
    rec.linkType = view.getUint32(at + 8, true)
    rec.origLength = view.getUint32(at + 12, true)
    rec.data = bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + len)
    sink.record(rec)
    at += RECORD_HEADER + len
  }
}

/** A reader thread; its messages in order through next(). */
export class ReaderThread {
  readonly #worker: Worker
  readonly #credit = new Int32Array(new SharedArrayBuffer(12))
  readonly #queue: ReaderMessage[] = []
  #waiting: { resolve: (m: ReaderMessage) => void; reject: (err: Error) => void } | null = null
  #failure: Error | null = null

  constructor(request: Omit<ReaderRequest, 'credit'>) {
    this.#worker = startModuleWorker('capture-reader-worker', import.meta.url, { ...request, credit: this.#credit })
    this.#worker.on('message', (m: ReaderMessage) => {
      const w = this.#waiting
      if (w !== null) { this.#waiting = null; w.resolve(m) } else this.#queue.push(m)
    })
    const fail = (err: Error): void => {
      this.#failure ??= err
      const w = this.#waiting
      this.#waiting = null
      w?.reject(this.#failure)
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) => fail(new Error(`the capture reader thread exited (status ${code})`)))
  }

  next(): Promise<ReaderMessage> {
    const m = this.#queue.shift()
    if (m !== undefined) return Promise.resolve(m)
    if (this.#failure !== null) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => { this.#waiting = { resolve, reject } })
  }

  /** A batch was used up: the reader may send another (a shared counter; a wake-up only when it waits for this one). */
  ack(): void {
    const used = Atomics.add(this.#credit, 0, 1) + 1
    const target = Atomics.load(this.#credit, 2)
    if (target !== 0 && used >= target) Atomics.notify(this.#credit, 0)
  }

  async stop(): Promise<void> {
    Atomics.store(this.#credit, 1, 1)
    Atomics.notify(this.#credit, 0)
    this.#worker.removeAllListeners('exit')
    await this.#worker.terminate()
  }
}
