/**
 * Events as JSON lines for the dashboard's spill file, read back into equal events: commands and
 * malformed input as their envelope plus `raw` in base64; other events whole, with any Buffer as
 * `{"$b": base64}` and numbers too large for JSON as `{"$n": "…"}`.
 */
import type { CommandScopeEvent, ScopeEvent } from '../events.js'
import { MsnpDecoder } from '../protocol/decoder.js'
import type { CommandEvent, Side } from '../protocol/events.js'

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029]/
const quote = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`)

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

/**
 * A command is stored as its envelope and raw bytes only: decoding the bytes again gives back the
 * same fields and payload, and costs far less than serialising the decoded objects for every
 * event that leaves memory (most are never looked at again).
 */
export function spillLine(ev: ScopeEvent): string {
  switch (ev.kind) {
    case 'command': {
      // written by hand: this runs for nearly every event of a busy session
      const c = ev.command
      let line = '{'
      for (const k in ev) {
        if (k === 'command' || k === 'forwarded') continue
        const v = (ev as unknown as Record<string, unknown>)[k]
        if (v === undefined) continue
        line += `${quote(k)}:${typeof v === 'string' ? quote(v) : typeof v === 'number' ? String(v) : JSON.stringify(v)},`
      }
      line += `"from":"${c.from}","offset":${c.offset},"commandDialect":${c.dialect},"raw":"${c.raw.toString('base64')}"`
      if (ev.forwarded !== undefined) line += `,"forwarded":"${ev.forwarded.toString('base64')}"`
      return `${line}}`
    }
    case 'malformed':
      return JSON.stringify({ ...ev, raw: ev.raw.toString('base64') })
    default:
      return JSON.stringify(toPlain(ev))
  }
}

function redecode(from: Side, raw: Buffer, dialect: number | null, offset: number): CommandEvent {
  const d = new MsnpDecoder(from, { dialect })
  const events = [...d.push(raw), ...d.end()]
  const only = events[0]
  if (events.length === 1 && only !== undefined && only.kind === 'command') return { ...only, offset }
  // not one command any more (should not happen): keep the bytes, say so
  const line = raw.toString('latin1').split(/\r?\n/, 1)[0] ?? ''
  const [verb = '?', ...args] = line.split(' ')
  return { kind: 'command', from, offset, raw, verb, trId: null, args, payloadLength: null, payloadRaw: null, fields: {}, payload: null, dialect, notes: ['read back from the spill file without decoding'] }
}

export function spillParse(line: string): ScopeEvent {
  const o = JSON.parse(line) as Record<string, unknown>
  if (o.kind === 'command') {
    const { from, offset, commandDialect, raw, forwarded, ...envelope } = o
    const command = redecode(from as Side, Buffer.from(raw as string, 'base64'), (commandDialect as number | null) ?? null, (offset as number) ?? 0)
    const ev = { ...envelope, command } as unknown as CommandScopeEvent
    if (typeof forwarded === 'string') ev.forwarded = Buffer.from(forwarded, 'base64')
    return ev
  }
  if (o.kind === 'malformed') return { ...o, raw: Buffer.from(o.raw as string, 'base64') } as unknown as ScopeEvent
  return fromPlain(o) as ScopeEvent
}
