/**
 * Events as lossless JSON lines for the dashboard's spill file: unlike the public JSON lines
 * (sinks/json.ts), every Buffer comes back as a Buffer (`{"$b": base64}`), numbers too large
 * for JSON as BigInt (`{"$n": "…"}`), and a payload that is the tail of `raw` is stored once.
 */
import type { ScopeEvent } from '../events.js'

type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain }

function toPlain(v: unknown): Plain {
  if (v === null || v === undefined) return null
  switch (typeof v) {
    case 'string': case 'boolean': return v
    case 'number': return Number.isFinite(v) ? v : null
    case 'bigint': return { $n: v.toString() }
    case 'object': {
      if (v instanceof Uint8Array) return { $b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
      if (Array.isArray(v)) return v.map(toPlain)
      const out: Record<string, Plain> = {}
      for (const [k, val] of Object.entries(v)) if (val !== undefined) out[k] = toPlain(val)
      return out
    }
    default: return null
  }
}

function fromPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(fromPlain)
  const o = v as Record<string, unknown>
  if (typeof o.$b === 'string' && Object.keys(o).length === 1) return Buffer.from(o.$b, 'base64')
  if (typeof o.$n === 'string' && Object.keys(o).length === 1) return BigInt(o.$n)
  const out: Record<string, unknown> = {}
  for (const [k, val] of Object.entries(o)) out[k] = fromPlain(val)
  return out
}

const isTailOf = (part: Buffer, whole: Buffer): boolean =>
  part.buffer === whole.buffer && part.byteOffset + part.length === whole.byteOffset + whole.length

/** One line of JSON (no newline inside) that spillParse turns back into an equal event. */
export function spillLine(ev: ScopeEvent): string {
  if (ev.kind === 'command') {
    const c = ev.command
    const { payloadRaw, ...rest } = c
    const command: Record<string, unknown> = { ...rest }
    if (payloadRaw !== null && isTailOf(payloadRaw, c.raw)) command.$tail = payloadRaw.length
    else command.payloadRaw = payloadRaw
    return JSON.stringify(toPlain({ ...ev, command }))
  }
  return JSON.stringify(toPlain(ev))
}

export function spillParse(line: string): ScopeEvent {
  const ev = fromPlain(JSON.parse(line)) as Record<string, unknown>
  if (ev.kind === 'command') {
    const c = ev.command as Record<string, unknown>
    if (typeof c.$tail === 'number') {
      const raw = c.raw as Buffer
      c.payloadRaw = raw.subarray(raw.length - c.$tail)
      delete c.$tail
    }
    c.payloadRaw ??= null
  }
  return ev as unknown as ScopeEvent
}
