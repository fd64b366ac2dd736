/**
 * Events as the JSON lines of the stable schema (docs/events.md). `raw` (base64 of the exact
 * bytes) is included when asked: always in saved files, on stdout with `--raw`.
 */
import type { ScopeEvent } from '../events.js'
import { MsnpDecoder } from '../protocol/decoder.js'
import type { CommandEvent } from '../protocol/events.js'

export interface JsonOptions {
  raw?: boolean
}

const b64 = (b: Buffer): string => b.toString('base64')

/** Buffers that slipped into decoded fields become base64 strings instead of byte arrays. */
export function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64')
  }
  if (typeof value === 'bigint') return value.toString()
  return value
}

export function toJson(ev: ScopeEvent, options: JsonOptions = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    seq: ev.seq, ts: ev.ts, kind: ev.kind, conn: ev.conn, transport: ev.transport,
    client: ev.client, server: ev.server, role: ev.role,
  }
  if (ev.account !== undefined) base.account = ev.account
  if (ev.dialect !== undefined) base.dialect = ev.dialect === null ? null : `MSNP${ev.dialect}`
  switch (ev.kind) {
    case 'command': {
      const c = ev.command
      base.from = c.from
      base.verb = c.verb
      base.trId = c.trId
      base.args = c.args
      base.payloadLength = c.payloadLength
      base.fields = c.fields
      base.payload = c.payload
      if (c.notes !== undefined) base.notes = c.notes
      base.action = ev.action
      if (ev.rule !== undefined) base.rule = ev.rule
      if (ev.tags !== undefined) base.tags = ev.tags
      if (ev.forwarded !== undefined && ev.action === 'rewrite') base.rewritten = rewritten(ev.forwarded, c)
      if (options.raw === true) {
        base.raw = b64(c.raw)
        if (ev.forwarded !== undefined) base.forwarded = b64(ev.forwarded)
      }
      return base
    }
    case 'malformed':
      base.from = ev.from
      base.code = ev.code
      base.reason = ev.reason
      base.rawLength = ev.raw.length
      base.raw = b64(ev.raw)
      return base
    default: {
      const { seq: _s, ts: _t, kind: _k, conn: _c, transport: _tr, client: _cl, server: _sv, role: _r, account: _a, dialect: _d, ...rest } = ev
      return { ...base, ...rest }
    }
  }
}

/** The command a rewrite forwarded instead, decoded like the original (base64 if it does not decode). */
function rewritten(bytes: Buffer, c: CommandEvent): Record<string, unknown> | string {
  const ev = new MsnpDecoder(c.from, { dialect: c.dialect }).push(bytes)[0]
  if (ev === undefined || ev.kind !== 'command') return b64(bytes)
  return { verb: ev.verb, trId: ev.trId, args: ev.args, payloadLength: ev.payloadLength, fields: ev.fields, payload: ev.payload }
}

/**
 * Decoded fields and payloads hold no Buffers, so the fast path needs no replacer; events of
 * kinds that may carry arbitrary objects (rule tags, counters) go through it.
 */
export function toJsonLine(ev: ScopeEvent, options: JsonOptions = {}): string {
  if (ev.kind === 'command') return commandLine(ev, options.raw === true)
  return ev.kind === 'malformed' ? JSON.stringify(toJson(ev, options)) : otherLine(ev)
}

/**
 * A string as JSON. Most strings of an event (times, addresses, verbs, accounts) need no
 * escaping: one scan for the characters JSON.stringify would escape (controls, quote, backslash,
 * and surrogates, which it escapes when unpaired) decides, and only those strings go through it.
 */
function q(s: string | null): string {
  if (s === null) return 'null'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s)
  }
  return `"${s}"`
}

/** The members every line starts with, as toJson writes them (the line goes on with a comma). */
export function eventHead(ev: ScopeEvent): string {
  return headStart(ev.seq, ev.ts) + headRest(ev)
}

/** The start of a head: the members that change with every event. */
export function headStart(seq: number, ts: string): string {
  return `{"seq":${seq},"ts":${q(ts)}`
}

/** The rest of a head: kind and connection, the same for its events until its role, account or dialect changes. */
export function headRest(ev: Omit<ScopeEvent, 'seq' | 'ts'>): string {
  let s = `,"kind":${q(ev.kind)},"conn":${q(ev.conn)},"transport":${q(ev.transport)},"client":${q(ev.client)},"server":${q(ev.server)},"role":${q(ev.role)}`
  if (ev.account !== undefined) s += `,"account":${q(ev.account)}`
  if (ev.dialect !== undefined) s += `,"dialect":${ev.dialect === null ? 'null' : `"MSNP${ev.dialect}"`}`
  return s
}

const HEAD_KEYS = new Set(['seq', 'ts', 'kind', 'conn', 'transport', 'client', 'server', 'role', 'account', 'dialect'])

/**
 * Any other event (sessions, HTTP exchanges, redirects, gaps, counters): the head, then the
 * event's own members in their order, exactly as JSON.stringify(toJson(ev), replacer) writes them.
 */
function otherLine(ev: Exclude<ScopeEvent, { kind: 'command' | 'malformed' }>): string {
  let s = eventHead(ev)
  const members = ev as unknown as Record<string, unknown>
  for (const key in members) {
    if (HEAD_KEYS.has(key)) continue
    const v = members[key]
    switch (typeof v) {
      case 'string': s += `,${q(key)}:${q(v)}`; break
      case 'boolean': s += `,${q(key)}:${v}`; break
      case 'number': s += `,${q(key)}:${Number.isFinite(v) ? v : 'null'}`; break
      case 'undefined': case 'function': case 'symbol': break
      default: {
        const text = JSON.stringify(v, replacer)
        if (text !== undefined) s += `,${q(key)}:${text}`
      }
    }
  }
  return s + '}'
}

/**
 * The line of a command event, written field by field: the same text as JSON.stringify(toJson())
 * (a test holds them equal) without building the intermediate object, since commands are
 * nearly every line of a busy proxy or a large capture.
 */
function commandLine(ev: Extract<ScopeEvent, { kind: 'command' }>, raw: boolean): string {
  return eventHead(ev) + commandRest(ev, raw)
}

/** What a command's line holds after its head: the command, the decision, and `raw` when asked. */
export function commandRest(ev: Pick<Extract<ScopeEvent, { kind: 'command' }>, 'command' | 'action' | 'rule' | 'tags' | 'forwarded'>, raw: boolean): string {
  const c = ev.command
  let s = `,"from":${q(c.from)},"verb":${q(c.verb)},"trId":${c.trId === null ? 'null' : c.trId},"args":${JSON.stringify(c.args)},"payloadLength":${c.payloadLength === null ? 'null' : c.payloadLength},"fields":${JSON.stringify(c.fields)},"payload":${c.payload === null ? 'null' : JSON.stringify(c.payload)}`
  if (c.notes !== undefined) s += `,"notes":${JSON.stringify(c.notes)}`
  s += `,"action":${q(ev.action)}`
  if (ev.rule !== undefined) s += `,"rule":${q(ev.rule)}`
  if (ev.tags !== undefined) s += `,"tags":${JSON.stringify(ev.tags)}`
  if (ev.forwarded !== undefined && ev.action === 'rewrite') s += `,"rewritten":${JSON.stringify(rewritten(ev.forwarded, c))}`
  if (raw) {
    s += `,"raw":"${b64(c.raw)}"`
    if (ev.forwarded !== undefined) s += `,"forwarded":"${b64(ev.forwarded)}"`
  }
  return s + '}'
}
