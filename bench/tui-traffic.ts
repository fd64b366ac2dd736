/**
 * Scope events for the dashboard benchmark: a notification session and twenty switchboards of
 * alice@example.com, with bench/traffic.ts's byte streams decoded on the fly, so every event has
 * its own decoded objects and raw bytes as a live source would give them.
 */
import type { ScopeEvent } from '../src/events.js'
import { MsnpDecoder } from '../src/protocol/decoder.js'
import type { MsnpEvent } from '../src/protocol/events.js'
import { generateStream } from './traffic.js'

const SB_VERBS = new Set(['MSG', 'JOI', 'ACK', 'CAL', 'IRO', 'BYE', 'ANS', 'NAK'])
const CHUNK = 64 * 1024

/** Endless decoded events of one direction: the generated stream, decoded chunk by chunk, again and again. */
class Source {
  #decoder: MsnpDecoder
  #at = 0
  #queue: MsnpEvent[] = []
  #q = 0
  constructor(readonly from: 'client' | 'server', readonly data: Buffer) { this.#decoder = new MsnpDecoder(from, { dialect: 12 }) }
  next(): MsnpEvent {
    while (this.#q >= this.#queue.length) {
      if (this.#at >= this.data.length) { this.#decoder = new MsnpDecoder(this.from, { dialect: 12 }); this.#at = 0 }
      this.#queue = this.#decoder.push(this.data.subarray(this.#at, this.#at + CHUNK))
      this.#q = 0
      this.#at += CHUNK
    }
    return this.#queue[this.#q++]!
  }
}

export function eventFactory(): () => ScopeEvent {
  const server = new Source('server', generateStream('server', 4 * 1024 * 1024, 7).data)
  const client = new Source('client', generateStream('client', 4 * 1024 * 1024, 11).data)
  let seq = 0
  let flip = 0
  const opens: ScopeEvent[] = []
  const t0 = Date.now()
  const base = (conn: string, role: 'NS' | 'SB'): Omit<ScopeEvent, 'kind'> & { transport: 'tcp' } => ({
    seq: 0, ts: '', conn, transport: 'tcp', client: `192.0.2.${10 + Number(conn.slice(1))}:5${conn.slice(1).padStart(4, '0')}`,
    server: role === 'NS' ? '198.51.100.1:1863' : '198.51.100.2:1863', role, account: 'alice@example.com', dialect: 12,
  })
  opens.push({ ...base('c1', 'NS'), kind: 'session-open' })
  for (let i = 2; i <= 21; i++) opens.push({ ...base(`c${i}`, 'SB'), kind: 'session-open', parent: 'c1', via: 'XFR' })
  return () => {
    const ts = new Date(t0 + seq).toISOString()
    const open = opens.shift()
    if (open !== undefined) return { ...open, seq: ++seq, ts }
    const e = (flip++ % 3 === 0 ? client : server).next()
    if (e.kind !== 'command') return { ...base('c1', 'NS'), kind: 'malformed', from: e.from, code: e.code, reason: e.reason, raw: e.raw, seq: ++seq, ts }
    const sb = SB_VERBS.has(e.verb)
    const conn = sb ? `c${2 + (seq % 20)}` : 'c1'
    return { ...base(conn, sb ? 'SB' : 'NS'), kind: 'command', command: e, action: seq % 997 === 0 ? 'block' : 'pass', ...(seq % 997 === 0 ? { rule: 'no-nudges' } : {}), seq: ++seq, ts }
  }
}
