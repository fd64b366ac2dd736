/**
 * The JSON line writer thread (see json-thread.ts): batches of items in, the text of their lines
 * out, in order. A command is decoded again from its raw bytes with a decoder of its side, set to
 * its dialect, and written after the head the importing thread made for it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { MsnpDecoder } from '../protocol/decoder.js'
import { commandRest, headStart } from './json.js'
import { ITEM_COMMAND, ITEM_FORGET_HEADS, ITEM_HEAD, type JsonWorkerData, type JsonWorkerMessage } from './json-thread.js'
import type { SliceableBuffer } from '../buffers.js'

const port = parentPort!
const { raw, limits } = workerData as JsonWorkerData
const decoders = { client: new MsnpDecoder('client', { limits }), server: new MsnpDecoder('server', { limits }) }

/** the rest of each connection's head, by number (ITEM_HEAD) */
const heads = new Map<number, string>()

let out = Buffer.allocUnsafeSlow(256 * 1024)
let used = 0

function reserve(n: number): void {
  if (used + n <= out.length) return
  const bigger = Buffer.allocUnsafeSlow(Math.max(2 * out.length, used + n))
  out.copy(bigger, 0, 0, used)
  out = bigger
}

function put(text: string): void {
  reserve(3 * text.length + 1)
  used += out.write(text, used)
  out[used++] = 0x0a
}

function render(b: Buffer, end: number): void {
  let at = 0
  while (at < end) {
    if (b[at] === ITEM_COMMAND) {
      const side = b[at + 1] === 0 ? 'client' : 'server'
      const dialect = b.readInt32LE(at + 2)
      const seq = b.readDoubleLE(at + 6)
      const rest = heads.get(b.readUInt32LE(at + 14))
      if (rest === undefined) throw new Error('a command came before the head of its connection')
      const tsLen = b.readUInt32LE(at + 18)
      const head = headStart(seq, (b as SliceableBuffer).utf8Slice(at + 22, at + 22 + tsLen)) + rest
      at += 22 + tsLen
      const rawLen = b.readUInt32LE(at)
      const bytes = b.subarray(at + 4, at + 4 + rawLen)
      at += 4 + rawLen
      let d = decoders[side]
      d.dialectState.dialect = dialect < 0 ? null : dialect
      d.dialectState.confirmed = true
      const events = d.push(bytes)
      const ev = events.length === 1 ? events[0]! : undefined
      if (ev?.kind !== 'command' || d.buffered !== 0) {
        // cannot happen for bytes this decoder once read as one command; say so rather than guess
        d = decoders[side] = new MsnpDecoder(side, { limits })
        put(`${head},"error":"the JSON writer could not decode this command again"}`)
        continue
      }
      put(head + commandRest({ command: ev, action: 'pass' }, raw))
    } else if (b[at] === ITEM_HEAD) {
      const n = b.readUInt32LE(at + 5)
      heads.set(b.readUInt32LE(at + 1), (b as SliceableBuffer).utf8Slice(at + 9, at + 9 + n))
      at += 9 + n
    } else if (b[at] === ITEM_FORGET_HEADS) {
      heads.clear()
      at += 1
    } else {
      const n = b.readUInt32LE(at + 1)
      reserve(n + 1)
      used += b.copy(out, used, at + 5, at + 5 + n)
      out[used++] = 0x0a
      at += 5 + n
    }
  }
}

port.on('message', (m: { buf: ArrayBuffer; used: number }) => {
  try {
    render(Buffer.from(m.buf, 0, m.used), m.used)
    const text = out.buffer
    const n = used
    out = Buffer.allocUnsafeSlow(Math.max(256 * 1024, n))
    used = 0
    const msg: JsonWorkerMessage = { type: 'text', buf: text, used: n }
    port.postMessage(msg, [text])
  } catch (err) {
    const msg: JsonWorkerMessage = { type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) }
    port.postMessage(msg)
  }
})
