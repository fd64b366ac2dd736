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
function replacer(this: unknown, _key: string, value: unknown): unknown {
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
  return ev.kind === 'malformed' ? JSON.stringify(toJson(ev, options)) : JSON.stringify(toJson(ev, options), replacer)
}

const q = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s))

/**
 * The line of a command event, written field by field: the same text as JSON.stringify(toJson())
 * (a test holds them equal) without building the intermediate object, since commands are
 * nearly every line of a busy proxy or a large capture.
 */
function commandLine(ev: Extract<ScopeEvent, { kind: 'command' }>, raw: boolean): string {
  const c = ev.command
  let s = `{"seq":${ev.seq},"ts":${q(ev.ts)},"kind":"command","conn":${q(ev.conn)},"transport":${q(ev.transport)},"client":${q(ev.client)},"server":${q(ev.server)},"role":${q(ev.role)}`
  if (ev.account !== undefined) s += `,"account":${q(ev.account)}`
  if (ev.dialect !== undefined) s += `,"dialect":${ev.dialect === null ? 'null' : `"MSNP${ev.dialect}"`}`
  s += `,"from":${q(c.from)},"verb":${q(c.verb)},"trId":${c.trId === null ? 'null' : c.trId},"args":${JSON.stringify(c.args)},"payloadLength":${c.payloadLength === null ? 'null' : c.payloadLength},"fields":${JSON.stringify(c.fields)},"payload":${c.payload === null ? 'null' : JSON.stringify(c.payload)}`
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
