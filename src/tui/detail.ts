/**
 * The detail pane's text for one event: where and when, the command line, decoded fields, MIME
 * headers and body, a table of the P2P binary header, the MSNSLP message inside it, the rest of
 * the decoded payload, and a hex dump of the raw bytes (and of the bytes forwarded instead, when
 * a rule rewrote them). Lines are blessed markup; every piece of wire text is sanitised and escaped.
 */
import type { ScopeEvent } from '../events.js'
import { eventDetailText, eventPayload, p2pFlagNames, sanitize, type P2pHeaderView } from '../event-view.js'
import { ACTION_MARK, FAMILY_STYLE, KIND_LABEL, PART_STYLE, verbFamily } from '../sinks/colors.js'
import { esc, styleTags } from './tags.js'

const HEX_LIMIT = 16 * 1024
const TEXT_LINES = 300

const heading = (title: string): string => `{cyan-fg}{bold}── ${esc(title)} ──{/}`
const key = (k: string, width = 14): string => `{gray-fg}${esc(k.padEnd(width))}{/}`

/** `0000  4d 53 47 20 …  MSG …` lines, 16 bytes each. */
export function hexDump(bytes: Buffer, limit = HEX_LIMIT): string[] {
  const out: string[] = []
  const n = Math.min(bytes.length, limit)
  for (let at = 0; at < n; at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, n))
    let hex = ''
    let text = ''
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' '
      const b = row[i]
      hex += b === undefined ? '   ' : `${b.toString(16).padStart(2, '0')} `
      if (b !== undefined) text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'
    }
    out.push(`${at.toString(16).padStart(6, '0')}  ${hex} ${text}`)
  }
  if (bytes.length > n) out.push(`… ${bytes.length - n} more bytes (save the event to see them all)`)
  return out
}

function scalar(v: unknown): string {
  if (v === null) return 'null'
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`
  if (typeof v === 'string') return v
  if (typeof v === 'bigint') return v.toString()
  return String(v)
}

/** Nested decoded values as `a.b.c  value` lines. */
export function flatten(value: unknown, prefix = '', out: Array<[string, string]> = [], depth = 0, skip: ReadonlySet<string> = new Set()): Array<[string, string]> {
  if (out.length >= 400) return out
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) {
    out.push([prefix === '' ? 'value' : prefix, scalar(value)])
    return out
  }
  if (Array.isArray(value)) {
    if (value.length === 0) { out.push([prefix, '[]']); return out }
    if (value.every((x) => x === null || typeof x !== 'object')) { out.push([prefix, value.map(scalar).join(', ')]); return out }
    value.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out, depth + 1))
    return out
  }
  const entries = Object.entries(value).filter(([k]) => !(depth === 0 && skip.has(k)))
  if (entries.length === 0 && prefix !== '') out.push([prefix, '{}'])
  for (const [k, v] of entries) {
    const name = prefix === '' ? k : `${prefix}.${k}`
    if (depth >= 4 && v !== null && typeof v === 'object') out.push([name, sanitize(JSON.stringify(v) ?? '')])
    else flatten(v, name, out, depth + 1)
  }
  return out
}

/** `key  value` lines, keys aligned to the longest (up to 28 columns). */
function pairLines(pairs: Array<[string, string]>): string[] {
  let width = 14
  for (const [k] of pairs) if (k.length > width) width = Math.min(28, k.length)
  return pairs.map(([k, v]) => `  ${key(k, width)} ${esc(sanitize(v))}`)
}

function textLines(text: string): string[] {
  const lines = text.split(/\r?\n|\r/)
  const out = lines.slice(0, TEXT_LINES).map((l) => `  ${esc(sanitize(l))}`)
  if (lines.length > TEXT_LINES) out.push(`  … ${lines.length - TEXT_LINES} more lines`)
  return out
}

function p2pTable(h: P2pHeaderView): string[] {
  const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`
  const rows: Array<[string, string, string, string]> = h.version === 1
    ? [
        ['0', 'SessionID', String(h.sessionId), hex(h.sessionId, 8)],
        ['4', 'Identifier', String(h.identifier), hex(h.identifier, 8)],
        ['8', 'Offset', String(h.offset), hex(h.offset, 16)],
        ['16', 'TotalSize', String(h.totalSize), hex(h.totalSize, 16)],
        ['24', 'MessageLength', String(h.messageLength), hex(h.messageLength, 8)],
        ['28', 'Flags', p2pFlagNames(h.flags), hex(h.flags, 8)],
        ['32', 'AckIdentifier', String(h.ackIdentifier), hex(h.ackIdentifier, 8)],
        ['36', 'AckUniqueID', String(h.ackUniqueId), hex(h.ackUniqueId, 8)],
        ['40', 'AckDataSize', String(h.ackDataSize), hex(h.ackDataSize, 16)],
      ]
    : [
        ['', 'Sequence', String(h.identifier), hex(h.identifier, 8)],
        ['', 'MessageLength', String(h.messageLength), hex(h.messageLength, 4)],
        ['', 'SessionID', String(h.sessionId), hex(h.sessionId, 8)],
        ['', 'TF', String(h.flags), hex(h.flags, 2)],
        ['', 'Ack', String(h.ackIdentifier), hex(h.ackIdentifier, 8)],
      ]
  if (h.footer !== null) rows.push(['end', 'Footer (AppID)', String(h.footer), hex(h.footer, 8)])
  const out = [`  {gray-fg}${'off'.padEnd(5)}${'field'.padEnd(16)}${'value'.padEnd(24)}hex{/}`]
  for (const [off, name, value, hx] of rows) out.push(`  {gray-fg}${off.padEnd(5)}{/}${esc(name.padEnd(16))}{bold}${esc(value.padEnd(24))}{/}{gray-fg}${hx}{/}`)
  return out
}

/** What the detail pane shows for `ev`. `extra` lines (held state, marks) go after the heading. */
export function detailLines(ev: ScopeEvent, extra: string[] = []): string[] {
  const out: string[] = []
  const label = ev.kind === 'command' ? styleTags(FAMILY_STYLE[verbFamily(ev.command.verb)], ev.command.verb) : styleTags(KIND_LABEL[ev.kind].style, KIND_LABEL[ev.kind].label)
  out.push(`{bold}#${ev.seq}{/}  ${label}  {gray-fg}${esc(ev.ts)}{/}`)
  const where = [`${ev.role}`, ev.dialect != null ? `MSNP${ev.dialect}` : null, ev.transport === 'http' ? 'HTTP gateway' : 'tcp'].filter((x) => x !== null).join(', ')
  out.push(`${key('connection')} {bold}${esc(ev.conn)}{/} (${esc(where)})  ${esc(ev.client ?? '?')} ⇄ ${esc(ev.server ?? '?')}`)
  if (ev.account != null) out.push(`${key('account')} ${esc(ev.account)}`)
  out.push(...extra)
  if (ev.kind !== 'command') {
    out.push(`${key('what')} ${esc(sanitize(eventDetailText(ev)))}`)
    const { seq: _s, ts: _t, kind: _k, conn: _c, transport: _tr, client: _cl, server: _sv, role: _r, account: _a, dialect: _d, ...rest } = ev as ScopeEvent & Record<string, unknown>
    const raw = ev.kind === 'malformed' ? ev.raw : null
    const fields = flatten(rest, '', [], 0, new Set(['raw']))
    if (fields.length > 0) out.push('', heading('Fields'), ...pairLines(fields))
    if (raw !== null) out.push('', heading(`Raw (${raw.length} bytes)`), ...hexDump(raw).map((l) => `  ${esc(l)}`))
    return out
  }
  const c = ev.command
  const arrow = c.from === 'client' ? styleTags(PART_STYLE.toServer, 'client → server') : styleTags(PART_STYLE.toClient, 'server → client')
  out.push(`${key('direction')} ${arrow}`)
  if (ev.action !== 'pass') {
    const mark = ACTION_MARK[ev.action]
    out.push(`${key('action')} ${styleTags(mark.style, ` ${mark.label} `)}${ev.rule !== undefined ? ` by rule {bold}${esc(sanitize(ev.rule))}{/}` : ''}`)
  } else if (ev.rule !== undefined) out.push(`${key('rule')} ${esc(sanitize(ev.rule))}`)
  if (ev.tags !== undefined && ev.tags.length > 0) out.push(`${key('tags')} ${esc(sanitize(ev.tags.join(', ')))}`)
  if (c.notes !== undefined && c.notes.length > 0) out.push(`${key('notes')} {yellow-fg}${esc(sanitize(c.notes.join('; ')))}{/}`)
  const lineEnd = c.raw.length - (c.payloadRaw?.length ?? 0)
  out.push(`${key('line')} {bold}${esc(sanitize(c.raw.subarray(0, lineEnd).toString('utf8').replace(/\r?\n$/, '')))}{/}`)
  const fields = flatten(c.fields)
  if (fields.length > 0 && !(fields.length === 1 && fields[0]![1] === '{}')) out.push('', heading('Fields'), ...pairLines(fields))
  if (c.payloadRaw !== null) {
    const v = eventPayload(ev)
    out.push('', heading(`Payload${v.contentType !== null ? `  ${sanitize(v.contentType)}` : ''}  (${c.payloadRaw.length} bytes)`))
    if (v.headers.length > 0) {
      out.push(...v.headers.map(([k, val]) => `  {yellow-fg}${esc(sanitize(k))}:{/} ${esc(sanitize(val))}`))
      out.push('')
    }
    if (v.p2p !== null) {
      out.push(heading(`P2P binary header (v${v.p2p.version}${v.p2p.version === 1 ? ', 48 bytes, little-endian' : ''})`), ...p2pTable(v.p2p))
      if (v.slp !== null) {
        out.push('', heading('MSNSLP'), `  {bold}${esc(sanitize(v.slp.startLine))}{/}`)
        out.push(...v.slp.headers.map(([k, val]) => `  {yellow-fg}${esc(sanitize(k))}:{/} ${esc(sanitize(val))}`))
        if (v.slp.fields.length > 0) out.push('', ...pairLines(v.slp.fields))
      }
      if (v.fileName !== null) out.push(`  ${key('file')} {bold}${esc(sanitize(v.fileName))}{/}`)
    } else if (v.text !== null) {
      out.push(...textLines(v.text))
    } else if (v.body !== null && v.body.length > 0) {
      out.push(`  {gray-fg}(${v.body.length} bytes of binary body, see the hex dump){/}`)
    }
    const dec = c.payload
    if (dec !== null) {
      const skip = new Set(['kind', 'contentType', 'mediaType', 'headers', 'text', 'charset', 'length'])
      if (v.p2p !== null) skip.add('header')
      const rest = flatten(dec, '', [], 0, skip)
      if (rest.length > 0) out.push('', heading(`Decoded (${sanitize(String(dec.kind))})`), ...pairLines(rest))
    }
  }
  out.push('', heading(`Raw (${c.raw.length} bytes)`), ...hexDump(c.raw).map((l) => `  ${esc(l)}`))
  if (ev.forwarded !== undefined) out.push('', heading(`Forwarded instead (${ev.forwarded.length} bytes)`), ...hexDump(ev.forwarded).map((l) => `  ${esc(l)}`))
  return out
}
