/**
 * The reader thread of a capture import: opens the file, undoes gzip, reads pcap or pcapng
 * records (capture-read.ts) and sends them to the importing thread packed in batches, while that
 * thread reassembles and decodes the batches before. At most a few batches are in flight: the
 * importing thread counts each one it used up, so a slow consumer holds the reading back and memory
 * stays flat. Messages are listed in capture-thread.ts; acknowledgements are a shared counter.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { MsnscopeError } from '../errors.js'
import type { CaptureRecord } from '../pcap/pcap-file.js'
import { RECORD_HEADER, type ReaderRequest, type ReaderMessage } from './capture-thread.js'
import { openCapture, readAll, recordReader, type RecordSink } from './capture-read.js'

const port = parentPort!
const { source, name, readBytes, batchBytes, maxInFlight, credit } = workerData as ReaderRequest

/** Records copied one after another into batch buffers: header (RECORD_HEADER bytes), then the data. */
class Packer implements RecordSink {
  readonly full: Array<{ buf: ArrayBuffer; used: number; count: number }> = []
  /** batch buffers already sent (as copies), to fill again */
  readonly free: ArrayBuffer[] = []
  #buf = new ArrayBuffer(batchBytes)
  #view = new DataView(this.#buf)
  #bytes = new Uint8Array(this.#buf)
  #used = 0
  #count = 0

  record(rec: CaptureRecord): void {
    const need = RECORD_HEADER + rec.data.length
    if (this.#used + need > this.#buf.byteLength) this.#next(need)
    const at = this.#used
    this.#view.setFloat64(at, rec.tsUs, true)
    this.#view.setUint32(at + 8, rec.linkType, true)
    this.#view.setUint32(at + 12, rec.origLength, true)
    this.#view.setUint32(at + 16, rec.data.length, true)
    this.#bytes.set(rec.data, at + RECORD_HEADER)
    this.#used = at + need
    this.#count++
  }

  /** Close the current batch (if it holds anything) and start one with room for `need` bytes. */
  #next(need: number): void {
    if (this.#count > 0) this.full.push({ buf: this.#buf, used: this.#used, count: this.#count })
    const reuse = need <= batchBytes ? this.free.pop() : undefined
    this.#buf = reuse ?? new ArrayBuffer(Math.max(batchBytes, need))
    this.#view = new DataView(this.#buf)
    this.#bytes = new Uint8Array(this.#buf)
    this.#used = 0
    this.#count = 0
  }

  /** Everything still open becomes a batch. */
  flush(): void { this.#next(0) }
}

// Atomics.waitAsync is in Node 20; the TypeScript library of this project predates it
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync
// stay alive after the last batch until the importing thread ends this thread: its 'exit' then means a crash
port.on('message', () => {})

let sent = 0
const stopped = (): boolean => Atomics.load(credit, 1) !== 0

/**
 * Wait while maxInFlight batches are unused, until half of them are: the importing thread then
 * wakes this one once every maxInFlight / 2 batches, not for each (a wake-up costs far more than
 * a batch's bookkeeping).
 */
async function room(): Promise<void> {
  if (sent - Atomics.load(credit, 0) < maxInFlight) return
  const target = sent - Math.floor(maxInFlight / 2)
  Atomics.store(credit, 2, target)
  for (;;) {
    const used = Atomics.load(credit, 0)
    if (used >= target || stopped()) break
    const w = waitAsync(credit, 0, used)
    if (w.async) await w.value
  }
  Atomics.store(credit, 2, 0)
}

function send(m: ReaderMessage): void { port.postMessage(m) }

async function main(): Promise<void> {
  const opened = await openCapture(source, name, readBytes)
  if (opened.format === 'jsonl') { send({ type: 'jsonl' }); return }
  const packer = new Packer()
  const seen = { linkTypes: [] as number[] }
  const reader = recordReader(opened, packer, seen, name)
  const steps = readAll(reader, opened, {})
  const post = async (): Promise<void> => {
    for (const b of packer.full.splice(0)) {
      await room()
      if (stopped()) return
      sent++
      // sent as a copy, not transferred: the importing thread then owns memory of its own, which
      // its collector frees promptly, and this buffer is filled again
      send({ type: 'batch', buf: b.buf, used: b.used, count: b.count, bytesRead: opened.counter.bytes, total: opened.total })
      if (b.buf.byteLength === batchBytes) packer.free.push(b.buf)
    }
  }
  let step = await steps.next()
  while (step.done !== true && !stopped()) {
    await post()
    step = await steps.next()
  }
  if (stopped()) { await opened.input.return?.(); return }
  packer.flush()
  await post()
  send({ type: 'end', format: opened.format, gzip: opened.gzip, linkTypes: seen.linkTypes, records: reader.records(), bytesRead: opened.counter.bytes, issue: step.value ?? null })
}

main().catch((err: unknown) => {
  if (err instanceof MsnscopeError) send({ type: 'error', code: err.code, message: err.message })
  else send({ type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) })
})
