/**
 * Text lines encoded once, straight into a large buffer, and handed on in batches as slices of it
 * (the live output and `read --json --rules` write them to stdout). A slice is never written over
 * once handed out (a stream may still be sending it), so a full buffer is replaced, not reused.
 */
export class LineSlab {
  static readonly SIZE = 1 << 20
  #buf = Buffer.alloc(0)
  #start = 0
  #end = 0

  /** Append one line and its newline; returns the text before it when the buffer had to be replaced. */
  add(line: string): Buffer | null {
    let done: Buffer | null = null
    const worst = line.length * 3 + 1
    if (this.#end + worst > this.#buf.length) {
      done = this.take()
      this.#buf = Buffer.allocUnsafeSlow(Math.max(LineSlab.SIZE, worst))
      this.#start = this.#end = 0
    }
    this.#end += this.#buf.write(line, this.#end, 'utf8')
    this.#buf[this.#end++] = 0x0a
    return done
  }

  /** Bytes added since the last take. */
  get pending(): number { return this.#end - this.#start }

  /** The text added since the last take, or null. */
  take(): Buffer | null {
    if (this.#end === this.#start) return null
    const out = this.#buf.subarray(this.#start, this.#end)
    this.#start = this.#end
    return out
  }
}
