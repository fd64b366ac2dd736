/**
 * Appends to a file in small batches, durably: lines are written (write(2)) at least every
 * `flushMs` or every `batchBytes`, so that a crash of msnscope loses at most one batch and what is
 * on disk is always whole records. A file that cannot be written (a full disk, an I/O error) is
 * given up: `onError` hears it once, later writes are dropped, and nothing throws into the
 * traffic that is being saved.
 */
import { closeSync, openSync, writeSync } from 'node:fs'

export class BatchedFile {
  readonly #fd: number
  #parts: Buffer[] = []
  #size = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #failed = false

  constructor(readonly path: string, readonly options: { flushMs?: number; batchBytes?: number; truncate?: boolean; onError?: (err: Error) => void } = {}) {
    this.#fd = openSync(path, options.truncate === true ? 'w' : 'a')
  }

  write(data: Buffer | string): void {
    if (this.#closed || this.#failed) return
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.#parts.push(b)
    this.#size += b.length
    if (this.#size >= (this.options.batchBytes ?? 64 * 1024)) this.flush()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.options.flushMs ?? 100)
      this.#timer.unref()
    }
  }

  flush(): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#size === 0) return
    const data = Buffer.concat(this.#parts, this.#size)
    this.#parts = []
    this.#size = 0
    if (this.#failed) return
    try {
      let at = 0
      while (at < data.length) at += writeSync(this.#fd, data, at, data.length - at)
    } catch (err) {
      this.#failed = true
      this.options.onError?.(err as Error)
    }
  }

  close(): void {
    if (this.#closed) return
    this.flush()
    this.#closed = true
    try { closeSync(this.#fd) } catch { /* already reported, or nothing left to lose */ }
  }
}
