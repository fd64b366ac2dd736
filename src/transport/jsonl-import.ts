/**
 * Loading saved events back: the JSON lines of sinks/json.ts (as `--save FILE.jsonl` writes
 * them, with `raw`). Command events are rebuilt by decoding their raw bytes with a decoder of
 * that side and dialect, so they come back exactly as a live run would have made them; other
 * events are taken as they are. `seq` is renumbered in load order. A line that is not an event
 * is reported and skipped; everything else still loads.
 */
import { StringDecoder } from 'node:string_decoder'
import { MsnpDecoder } from '../protocol/decoder.js'
import type { CommandEvent, Role, Side } from '../protocol/events.js'
import type { Action, EventBase, EventSink, ScopeEvent, Transport } from '../events.js'

const ROLES = new Set<Role>(['DS', 'NS', 'SB', '?'])
const BASE_KEYS = new Set(['seq', 'ts', 'kind', 'conn', 'transport', 'client', 'server', 'role', 'account', 'dialect'])
const MAX_WARNINGS = 20
/** Longer lines are not events msnscope wrote (a command with the largest payload allowed is a few MB): skipped. */
const MAX_LINE = 64 * 1024 * 1024

export class JsonlLoader {
  lines = 0
  events = 0
  bad = 0
  readonly warnings: string[] = []
  #seq = 0
  /** text across chunks (a character may be cut between two) */
  readonly #utf8 = new StringDecoder('utf8')
  /** the pieces of the line not yet ended, and their length */
  #rest: string[] = []
  #restLength = 0
  /** the line not yet ended is too long: skipped up to its end */
  #skipping = false

  constructor(readonly sink: EventSink, readonly maxLine = MAX_LINE) {}

  push(chunk: Buffer): void {
    this.#text(this.#utf8.write(chunk))
  }

  end(): void {
    this.#text(this.#utf8.end())
    if (this.#skipping) this.#tooLong()
    else if (this.#restLength > 0) this.#line(this.#rest.join(''))
    this.#rest = []
    this.#restLength = 0
    if (this.bad > this.warnings.length) this.warnings.push(`${this.bad - this.warnings.length} more lines were not events`)
  }

  /** Whole lines to #line; the end of the text waits for its newline (only the new text is searched). */
  #text(text: string): void {
    let from = 0
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      const piece = text.slice(from, nl)
      from = nl + 1
      if (this.#skipping || this.#restLength + piece.length > this.maxLine) { this.#tooLong(); continue }
      this.#line(this.#restLength === 0 ? piece : this.#rest.join('') + piece)
      this.#rest = []
      this.#restLength = 0
    }
    if (from >= text.length || this.#skipping) return
    const tail = text.slice(from)
    if (this.#restLength + tail.length > this.maxLine) {
      this.#skipping = true
      this.#rest = []
      this.#restLength = 0
      return
    }
    this.#rest.push(tail)
    this.#restLength += tail.length
  }

  /** A line longer than maxLine ended (or the input did): it is counted and skipped. */
  #tooLong(): void {
    this.lines++
    this.#warn(`line ${this.lines}: longer than ${this.maxLine >= 1024 * 1024 ? `${Math.round(this.maxLine / (1024 * 1024))} MB` : `${this.maxLine} characters`}, skipped`)
    this.#skipping = false
    this.#rest = []
    this.#restLength = 0
  }

  #line(line: string): void {
    this.lines++
    const text = line.trim()
    if (text === '') return
    let obj: unknown
    try {
      obj = JSON.parse(text)
    } catch (err) {
      this.#warn(`line ${this.lines}: not JSON (${err instanceof Error ? err.message : String(err)})`)
      return
    }
    const ev = rebuild(obj)
    if (typeof ev === 'string') { this.#warn(`line ${this.lines}: ${ev}`); return }
    ev.seq = ++this.#seq
    this.events++
    this.sink(ev)
  }

  #warn(message: string): void {
    this.bad++
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message)
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

function dialectOf(v: unknown): number | null | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'number') return v
  if (typeof v === 'string' && /^MSNP\d+$/i.test(v)) return Number(v.slice(4))
  return null
}

/** An event from one parsed line, or why the line is not one. */
export function rebuild(obj: unknown): ScopeEvent | string {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'not an event object'
  const o = obj as Record<string, unknown>
  const kind = str(o.kind)
  const conn = str(o.conn)
  const ts = str(o.ts)
  if (kind === null || conn === null || ts === null) return 'not an msnscope event (kind, conn and ts are required)'
  const role = ROLES.has(o.role as Role) ? (o.role as Role) : '?'
  const base: EventBase = {
    seq: 0, ts, conn, transport: o.transport === 'http' ? 'http' : 'tcp' as Transport,
    client: str(o.client), server: str(o.server), role,
  }
  if ('account' in o) base.account = str(o.account)
  const dialect = dialectOf(o.dialect)
  if (dialect !== undefined) base.dialect = dialect
  if (kind === 'command') {
    const from = o.from === 'server' ? 'server' : o.from === 'client' ? 'client' : null
    if (from === null) return 'command without "from"'
    const command = commandOf(o, from, dialect ?? null)
    if (typeof command === 'string') return command
    const ev: ScopeEvent = { ...base, kind: 'command', command, action: (str(o.action) ?? 'pass') as Action }
    if (typeof o.rule === 'string') ev.rule = o.rule
    if (Array.isArray(o.tags)) ev.tags = o.tags.filter((t): t is string => typeof t === 'string')
    if (typeof o.forwarded === 'string') ev.forwarded = Buffer.from(o.forwarded, 'base64')
    return ev
  }
  if (kind === 'malformed') {
    const from = o.from === 'server' ? 'server' : 'client'
    return { ...base, kind: 'malformed', from, code: (str(o.code) ?? 'not-a-command') as never, reason: str(o.reason) ?? '', raw: Buffer.from(str(o.raw) ?? '', 'base64') }
  }
  const rest: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (!BASE_KEYS.has(k)) rest[k] = v
  return { ...base, ...rest, kind } as ScopeEvent
}

/** Decode the raw bytes again; without them, take the fields as saved. */
function commandOf(o: Record<string, unknown>, from: Side, dialect: number | null): CommandEvent | string {
  const raw = typeof o.raw === 'string' ? Buffer.from(o.raw, 'base64') : null
  if (raw !== null && raw.length > 0) {
    const d = new MsnpDecoder(from, { dialect })
    const evs = [...d.push(raw), ...d.end()]
    const first = evs[0]
    if (evs.length === 1 && first !== undefined && first.kind === 'command') return first
  }
  const verb = str(o.verb)
  if (verb === null) return 'command without "verb"'
  const payloadLength = typeof o.payloadLength === 'number' ? o.payloadLength : null
  return {
    kind: 'command', from, offset: 0, raw: raw ?? Buffer.alloc(0), verb,
    trId: typeof o.trId === 'number' ? o.trId : null,
    args: Array.isArray(o.args) ? o.args.map(String) : [],
    payloadLength, payloadRaw: null,
    fields: o.fields !== null && typeof o.fields === 'object' ? (o.fields as Record<string, unknown>) : {},
    payload: o.payload !== null && typeof o.payload === 'object' ? (o.payload as CommandEvent['payload']) : null,
    dialect,
  }
}
