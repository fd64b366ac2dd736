/**
 * Every event the dashboard has seen, by arrival index (0, 1, 2 …), in bounded memory: the newest
 * live in a ring in memory; older ones are spilled to a temporary file of JSON lines (raw bytes
 * included) and read back by offset when the user scrolls to them. Spilled events are written in
 * blocks; only each block's file offset is kept, so the index stays small for hours of traffic.
 *
 * The in-memory part is bounded by an estimate of its size (`budget` bytes) and by a count; the
 * dashboard lowers the budget when the process grows too large. The file is removed on close()
 * and, failing that, when the process exits. A spill file that cannot be written (a full disk)
 * is given up: from then on the oldest events are let go instead (`spillError` says why), and
 * memory stays bounded all the same.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ScopeEvent } from '../events.js'
import { spillLine, spillParse } from './spill-codec.js'

export interface StoreOptions {
  /** estimated bytes of events kept in memory before the oldest are spilled */
  budget: number
  /** at most this many events in memory, whatever their size (default 200,000) */
  maxInMemory?: number
  /** directory for the spill file (default: the system temp directory) */
  dir?: string
  /** events per spill block (default 256) */
  blockSize?: number
}

/** A rough size of an event in memory: object overhead plus its bytes. */
export function estimateSize(ev: ScopeEvent): number {
  if (ev.kind === 'command') {
    const c = ev.command
    let n = 900 + c.raw.length + c.args.length * 48
    if (c.payload !== null) n += 400 + (c.payloadRaw?.length ?? 0)
    return n
  }
  if (ev.kind === 'malformed') return 500 + ev.raw.length
  return 500
}

/** Node keeps a whole chunk alive behind a small view of it; keep a copy when the chunk is large. */
function compactBuffer(b: Buffer): Buffer {
  return b.buffer.byteLength > 64 * 1024 && b.buffer.byteLength > b.length * 4 ? Buffer.from(b) : b
}

function compact(ev: ScopeEvent): ScopeEvent {
  if (ev.kind === 'command') {
    const c = ev.command
    const raw = compactBuffer(c.raw)
    if (raw === c.raw) return ev
    const payloadRaw = c.payloadRaw === null ? null : raw.subarray(raw.length - c.payloadRaw.length)
    return { ...ev, command: { ...c, raw, payloadRaw } }
  }
  if (ev.kind === 'malformed') {
    const raw = compactBuffer(ev.raw)
    return raw === ev.raw ? ev : { ...ev, raw }
  }
  return ev
}

const liveDirs = new Set<string>()
let exitHook = false
function registerDir(dir: string): void {
  liveDirs.add(dir)
  if (exitHook) return
  exitHook = true
  process.once('exit', () => { for (const d of liveDirs) { try { rmSync(d, { recursive: true, force: true }) } catch { /* best effort */ } } })
}

export class EventStore {
  #budget: number
  readonly #maxInMemory: number
  readonly #blockSize: number
  readonly #dirOption: string | undefined

  /** in-memory events; #mem[#off] has index #memStart */
  #mem: ScopeEvent[] = []
  #sizes: number[] = []
  #off = 0
  #memStart = 0
  #memBytes = 0
  #count = 0

  #dir: string | null = null
  #fd: number | null = null
  #filePos = 0
  /** file offset and byte length of each written block */
  #blockOffsets: number[] = []
  #blockLengths: number[] = []
  /** lines of the block being filled (spilled but not yet written) */
  #pending: string[] = []
  /** recently read blocks: block number → lines */
  readonly #cache = new Map<number, string[]>()
  #closed = false
  /** why the spill file could not be written (a full disk …): older events are then let go */
  #spillError: string | null = null
  /** events let go because the spill file failed */
  #lost = 0

  constructor(options: StoreOptions) {
    this.#budget = options.budget
    this.#maxInMemory = options.maxInMemory ?? 200_000
    this.#blockSize = options.blockSize ?? 256
    this.#dirOption = options.dir
  }

  /** Events appended so far. */
  get size(): number { return this.#count }
  /** Index of the oldest event still in memory. */
  get firstInMemory(): number { return this.#memStart }
  get inMemory(): number { return this.#count - this.#memStart }
  /** Estimated bytes of the in-memory events. */
  get memoryBytes(): number { return this.#memBytes }
  get budget(): number { return this.#budget }
  /** Bytes written to the spill file. */
  get spilledBytes(): number { return this.#filePos }
  get spillPath(): string | null { return this.#dir === null ? null : join(this.#dir, 'events.jsonl') }
  /** Set once the spill file failed: events older than memory holds are gone from then on. */
  get spillError(): string | null { return this.#spillError }
  /** Events let go (not spilled) since the spill file failed. */
  get lost(): number { return this.#lost }

  /** Change the memory budget; lowering it spills at once. */
  setBudget(bytes: number): void {
    this.#budget = Math.max(0, bytes)
    this.#evict()
  }

  append(ev: ScopeEvent): number {
    if (this.#closed) return -1
    const e = compact(ev)
    const size = estimateSize(e)
    this.#mem.push(e)
    this.#sizes.push(size)
    this.#memBytes += size
    const index = this.#count++
    this.#evict()
    return index
  }

  /** The event at `index`, from memory or the spill file; undefined when out of range. */
  get(index: number): ScopeEvent | undefined {
    if (index < 0 || index >= this.#count || !Number.isInteger(index)) return undefined
    if (index >= this.#memStart) return this.#mem[this.#off + index - this.#memStart]
    const block = Math.floor(index / this.#blockSize)
    const line = this.#blockLines(block)?.[index % this.#blockSize]
    if (line === undefined) return undefined
    try { return spillParse(line) } catch { return undefined }
  }

  /** Call fn for each event in [from, to), reading spilled blocks sequentially. */
  forEach(from: number, to: number, fn: (ev: ScopeEvent, index: number) => void): void {
    const end = Math.min(to, this.#count)
    for (let i = Math.max(0, from); i < end; i++) {
      const ev = this.get(i)
      if (ev !== undefined) fn(ev, i)
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#mem = []
    this.#sizes = []
    this.#pending = []
    this.#cache.clear()
    if (this.#fd !== null) { try { closeSync(this.#fd) } catch { /* already closed */ } this.#fd = null }
    if (this.#dir !== null) {
      try { rmSync(this.#dir, { recursive: true, force: true }) } catch { /* best effort */ }
      liveDirs.delete(this.#dir)
    }
  }

  #evict(): void {
    while (this.#count - this.#memStart > 0 && (this.#memBytes > this.#budget || this.#count - this.#memStart > this.#maxInMemory)) {
      const ev = this.#mem[this.#off]!
      this.#memBytes -= this.#sizes[this.#off]!
      this.#mem[this.#off] = undefined as unknown as ScopeEvent
      this.#off++
      this.#memStart++
      this.#spill(ev)
    }
    if (this.#off > 4096 && this.#off * 2 > this.#mem.length) {
      this.#mem = this.#mem.slice(this.#off)
      this.#sizes = this.#sizes.slice(this.#off)
      this.#off = 0
    }
  }

  #spill(ev: ScopeEvent): void {
    this.#pending.push(spillLine(ev))
    if (this.#pending.length >= this.#blockSize) this.#writeBlock()
  }

  #writeBlock(): void {
    const lines = this.#pending
    this.#pending = []
    if (this.#spillError === null) {
      try {
        if (this.#fd === null) {
          this.#dir = mkdtempSync(join(this.#dirOption ?? tmpdir(), 'msnscope-'))
          registerDir(this.#dir)
          this.#fd = openSync(join(this.#dir, 'events.jsonl'), 'w+', 0o600)
        }
        const data = Buffer.from(`${lines.join('\n')}\n`, 'utf8')
        let written = 0
        while (written < data.length) written += writeSync(this.#fd, data, written, data.length - written, this.#filePos + written)
        this.#blockOffsets.push(this.#filePos)
        this.#blockLengths.push(data.length)
        this.#filePos += data.length
        return
      } catch (err) {
        this.#spillError = (err as NodeJS.ErrnoException).code ?? String(err)
      }
    }
    // a block that could not be written is gone: its events read as absent
    this.#lost += lines.length
    this.#blockOffsets.push(-1)
    this.#blockLengths.push(0)
  }

  #blockLines(block: number): string[] | undefined {
    if (block === this.#blockOffsets.length) return this.#pending
    const cached = this.#cache.get(block)
    if (cached !== undefined) {
      this.#cache.delete(block)
      this.#cache.set(block, cached)
      return cached
    }
    const offset = this.#blockOffsets[block]
    const length = this.#blockLengths[block]
    if (offset === undefined || length === undefined || offset < 0 || this.#fd === null) return undefined
    const buf = Buffer.allocUnsafe(length)
    let got = 0
    while (got < length) {
      const n = readSync(this.#fd, buf, got, length - got, offset + got)
      if (n === 0) break
      got += n
    }
    const lines = buf.subarray(0, got).toString('utf8').split('\n')
    this.#cache.set(block, lines)
    if (this.#cache.size > 8) this.#cache.delete(this.#cache.keys().next().value as number)
    return lines
  }
}
