/**
 * A readable summary of a capture's events: its connections (role, account, dialect, endpoints,
 * how they were referred), command counts, and the chats on its switchboards. It keeps one small
 * record per connection (details for the first `maxConnections`, counts for the rest), never the
 * events themselves.
 */
import type { ScopeEvent } from '../events.js'
import { chatMessage } from './transcript.js'

interface ConnSummary {
  conn: string
  transport: string
  client: string | null
  server: string | null
  role: string
  account: string | null
  dialect: number | null
  parent?: string
  via?: string
  midStream: boolean
  commands: { client: number; server: number }
  malformed: number
  gaps: number
  gapBytes: number
  http: number
  first: string
  last: string
  closed: string | null
  /** switchboard chats */
  people: string[]
  texts: number
  typing: number
  nudges: number
}

/** What the reader knows about the input, for the heading. */
export interface SummaryInput {
  name: string
  format: string
  gzip?: boolean
  records: number
  bytesRead: number
  linkTypes?: string[]
  warnings: string[]
  /** the events were chosen by this filter (`--filter`): the summary counts only them */
  filter?: string
}

export interface Painter {
  bold(s: string): string
  dim(s: string): string
  role(role: string, s: string): string
  warn(s: string): string
}

export const PLAIN: Painter = { bold: (s) => s, dim: (s) => s, role: (_r, s) => s, warn: (s) => s }

/** Events that belong to a connection and may be the first of it the summary sees. */
const OPENS: ReadonlySet<ScopeEvent['kind']> = new Set(['session-open', 'command', 'malformed', 'gap', 'http'])

export class SummarySink {
  readonly #conns = new Map<string, ConnSummary>()
  readonly #verbs = new Map<string, number>()
  #events = 0
  #extra = { conns: 0, commands: 0 }
  /** roles of the connections beyond maxConnections, counted as they close */
  #extraRoles = new Map<string, number>()
  #transports = { tcp: 0, http: 0 }
  #totals = { commands: 0, malformed: 0, gaps: 0, gapBytes: 0, texts: 0 }
  #first: string | null = null
  #last: string | null = null

  constructor(readonly maxConnections = 2000) {}

  push(ev: ScopeEvent): void {
    this.#events++
    if (this.#first === null || ev.ts < this.#first) this.#first = ev.ts
    if (this.#last === null || ev.ts > this.#last) this.#last = ev.ts
    let c = this.#conns.get(ev.conn)
    // a connection starts with its session-open; with --filter, with the first of its events shown
    if (c === undefined && OPENS.has(ev.kind)) {
      this.#transports[ev.transport]++
      if (this.#conns.size >= this.maxConnections) { this.#extra.conns++; return }
      c = {
        conn: ev.conn, transport: ev.transport, client: ev.client, server: ev.server, role: ev.role,
        account: ev.account ?? null, dialect: ev.dialect ?? null, midStream: ev.kind === 'session-open' && ev.midStream === true,
        commands: { client: 0, server: 0 }, malformed: 0, gaps: 0, gapBytes: 0, http: 0, first: ev.ts, last: ev.ts,
        closed: null, people: [], texts: 0, typing: 0, nudges: 0,
      }
      if (ev.kind === 'session-open' && ev.parent !== undefined) c.parent = ev.parent
      if (ev.kind === 'session-open' && ev.via !== undefined) c.via = ev.via
      this.#conns.set(ev.conn, c)
    }
    if (ev.kind === 'command') {
      this.#totals.commands++
      const v = ev.command.verb
      this.#verbs.set(v, (this.#verbs.get(v) ?? 0) + 1)
    } else if (ev.kind === 'malformed') this.#totals.malformed++
    else if (ev.kind === 'gap' && ev.bytes > 0) { this.#totals.gaps++; this.#totals.gapBytes += ev.bytes }
    if (c === undefined) {
      if (ev.kind === 'command') this.#extra.commands++
      else if (ev.kind === 'session-close') this.#extraRoles.set(ev.role, (this.#extraRoles.get(ev.role) ?? 0) + 1)
      return
    }
    c.last = ev.ts
    if (ev.role !== '?') c.role = ev.role
    if (ev.account != null) c.account = ev.account
    if (ev.dialect != null) c.dialect = ev.dialect
    switch (ev.kind) {
      case 'command': {
        const cmd = ev.command
        c.commands[cmd.from]++
        if (c.role === 'SB') this.#chat(c, ev)
        break
      }
      case 'malformed': c.malformed++; break
      case 'gap': if (ev.bytes > 0) { c.gaps++; c.gapBytes += ev.bytes } break
      case 'http': c.http++; break
      case 'session-open':
        if (ev.parent !== undefined) c.parent = ev.parent
        if (ev.via !== undefined) c.via = ev.via
        break
      case 'session-close':
        c.closed = ev.reason
        break
      default: break
    }
  }

  #chat(c: ConnSummary, ev: Extract<ScopeEvent, { kind: 'command' }>): void {
    const cmd = ev.command
    const meet = (who: string | undefined): void => {
      if (who === undefined) return
      const a = who.split(';')[0]!
      if (a !== c.account && !c.people.includes(a) && c.people.length < 50) c.people.push(a)
    }
    if (cmd.from === 'server' && (cmd.verb === 'JOI' || cmd.verb === 'MSG')) meet(cmd.args[0])
    else if (cmd.from === 'server' && cmd.verb === 'IRO') meet(cmd.args[2])
    else if (cmd.from === 'client' && cmd.verb === 'CAL') meet(cmd.args[0])
    if (cmd.verb !== 'MSG') return
    const m = chatMessage(cmd)
    if (m === null) return
    if (m.kind === 'text') { c.texts++; this.#totals.texts++ } else if (m.kind === 'typing') c.typing++
    else if (m.kind === 'nudge') c.nudges++
  }

  /** The summary as text. */
  render(input: SummaryInput, paint: Painter = PLAIN, width = 100): string {
    const out: string[] = []
    const conns = [...this.#conns.values()]
    const byRole = new Map(this.#extraRoles)
    for (const c of conns) byRole.set(c.role, (byRole.get(c.role) ?? 0) + 1)
    const span = this.#first !== null && this.#last !== null ? `, ${day(this.#first)} to ${this.#last.slice(0, 10) === this.#first.slice(0, 10) ? this.#last.slice(11, 19) : day(this.#last)} UTC (${duration(this.#first, this.#last)})` : ''
    const kinds = input.linkTypes !== undefined && input.linkTypes.length > 0 ? ` (${input.linkTypes.join(', ')})` : ''
    out.push(paint.bold(`${input.name}`) + `: ${input.format}${input.gzip === true ? '.gz' : ''}${kinds}, ${n(input.records)} ${input.format === 'jsonl' ? 'events' : 'packets'}, ${bytes(input.bytesRead)}${span}`)
    if (input.filter !== undefined) out.push(paint.dim(`only the events --filter ${JSON.stringify(input.filter)} matches`))
    const total = this.#transports.tcp + this.#transports.http
    if (total === 0) {
      out.push('no MSNP traffic found' + (input.format === 'jsonl' ? '' : ' (TCP streams are recognised by their content; --port N decodes a port whatever it holds)'))
    } else {
      const roles = ['DS', 'NS', 'SB', '?'].filter((r) => (byRole.get(r) ?? 0) > 0).map((r) => `${n(byRole.get(r)!)} ${r === '?' ? 'unknown' : r}`).join(', ')
      const via = this.#transports.http > 0 ? ` (${n(this.#transports.tcp)} TCP, ${n(this.#transports.http)} HTTP gateway)` : ''
      out.push(`${n(total)} MSNP connection${total === 1 ? '' : 's'}${via}: ${roles}; ${n(this.#totals.commands)} commands, ${n(this.#totals.malformed)} malformed, ${n(this.#totals.gaps)} gaps${this.#totals.gaps > 0 ? ` (${bytes(this.#totals.gapBytes)} missing)` : ''}`)
      out.push('', paint.bold('Connections'))
      for (const c of conns) out.push(this.#connLine(c, paint, input.filter !== undefined))
      if (this.#extra.conns > 0) out.push(paint.dim(`  … and ${n(this.#extra.conns)} more connections (--json lists them all)`))
      out.push('', paint.bold('Commands'))
      const verbs = [...this.#verbs].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      out.push(...wrap(verbs.map(([v, k]) => `${v} ${n(k)}`), width - 2).map((l) => `  ${l}`))
      const chats = conns.filter((c) => c.role === 'SB' && (c.texts > 0 || c.typing > 0 || c.nudges > 0))
      out.push('', paint.bold('Chats'))
      if (chats.length === 0) out.push(paint.dim('  none'))
      for (const c of chats) {
        const who = [c.account ?? '(capture side)', ...c.people].join(', ')
        const parts = [`${n(c.texts)} message${c.texts === 1 ? '' : 's'}`]
        if (c.typing > 0) parts.push(`${n(c.typing)} typing`)
        if (c.nudges > 0) parts.push(`${n(c.nudges)} nudge${c.nudges === 1 ? '' : 's'}`)
        out.push(`  ${c.conn.padEnd(6)} ${who}: ${parts.join(', ')}  ${paint.dim(`${day(c.first)}, ${duration(c.first, c.last)}`)}`)
      }
    }
    if (input.warnings.length > 0) {
      out.push('', paint.bold('Warnings'))
      for (const w of input.warnings) out.push('  ' + paint.warn(w))
    }
    return out.join('\n') + '\n'
  }

  #connLine(c: ConnSummary, paint: Painter, filtered: boolean): string {
    const role = paint.role(c.role, c.role.padEnd(2))
    const ends = `${c.client ?? '?'} -> ${c.server ?? '?'}`
    const dialect = c.dialect !== null ? `MSNP${c.dialect}` : 'MSNP?'
    const cmds = c.commands.client + c.commands.server
    const notes: string[] = []
    if (c.parent !== undefined) notes.push(`from ${c.parent}${c.via !== undefined ? ` (${c.via})` : ''}`)
    if (c.midStream) notes.push('mid-stream')
    if (c.http > 0) notes.push(`${n(c.http)} HTTP messages`)
    if (c.malformed > 0) notes.push(`${n(c.malformed)} malformed`)
    if (c.gaps > 0) notes.push(`${n(c.gaps)} gaps (${bytes(c.gapBytes)})`)
    // with a filter, a connection whose session-close was not chosen is not known to be open
    if (c.closed !== null || !filtered) notes.push(c.closed === null ? 'open' : `closed: ${c.closed}`)
    return `  ${c.conn.padEnd(6)} ${role} ${c.transport.padEnd(4)} ${ends}  ${dialect}  ${c.account ?? paint.dim('(no account)')}  ${n(cmds)} commands (${n(c.commands.client)} C>S, ${n(c.commands.server)} S>C)${notes.length > 0 ? `  ${paint.dim(notes.join(', '))}` : ''}`
  }
}

const n = (x: number): string => x.toLocaleString('en-US')

function bytes(x: number): string {
  if (x < 1000) return `${x} B`
  if (x < 1e6) return `${(x / 1e3).toFixed(1)} kB`
  if (x < 1e9) return `${(x / 1e6).toFixed(1)} MB`
  return `${(x / 1e9).toFixed(2)} GB`
}

const day = (ts: string): string => ts.slice(0, 19).replace('T', ' ')

function duration(from: string, to: string): string {
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000))
  if (!Number.isFinite(s)) return '?'
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

function wrap(items: string[], width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const it of items) {
    if (line !== '' && line.length + 2 + it.length > width) { lines.push(line); line = '' }
    line = line === '' ? it : `${line}  ${it}`
  }
  if (line !== '') lines.push(line)
  return lines
}
