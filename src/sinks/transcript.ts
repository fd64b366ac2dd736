/**
 * Chats as readable text: per switchboard (or gateway switchboard session), who said what to
 * whom and when, with typing notifications and nudges marked. A switchboard's block is written
 * when it closes, so a transcript of standard input appears as the capture goes; memory holds
 * only the switchboards still open.
 *
 * MSG payloads come from the payload decoder (`text`, `typing`, `datacast`); a payload it left
 * undecoded (or an event loaded without one) is read with a minimal MIME split of the raw bytes.
 */
import type { ScopeEvent } from '../events.js'
import type { CommandEvent } from '../protocol/events.js'
import { bareAccount } from '../session/tracker.js'

export type ChatLineKind = 'text' | 'typing' | 'nudge' | 'datacast'

export interface ChatLine {
  ts: string
  kind: ChatLineKind
  from: string
  to: string[]
  text: string
}

export interface ChatMessage { kind: ChatLineKind; text: string; typingUser: string | null }

interface Board {
  conn: string
  server: string | null
  transport: string
  dialect: number | null
  /** the account signed in on this connection (the capture's side) */
  local: string | null
  /** everyone else seen in the conversation, in order of appearance */
  others: string[]
  lines: ChatLine[]
  first: string
}

export interface TranscriptOptions {
  /** write typing notifications too (default true) */
  typing?: boolean
  /** at most this many lines kept per switchboard (older ones are counted, not kept) */
  maxLines?: number
}

const DATACAST_NAMES: Record<number, string> = { 1: 'nudge', 2: 'wink', 3: 'voice clip', 4: 'action message' }

/** What an MSG payload says, for a transcript; null for anything that is not chat (P2P, invitations, controls). */
export function chatMessage(cmd: CommandEvent): ChatMessage | null {
  const p = cmd.payload
  if (p !== null && p.kind === 'text') return { kind: 'text', text: typeof p.text === 'string' ? p.text : '', typingUser: null }
  if (p !== null && p.kind === 'typing') return { kind: 'typing', text: '', typingUser: typeof p.typingUser === 'string' ? p.typingUser : null }
  if (p !== null && p.kind === 'datacast') {
    const id = typeof p.datacastId === 'number' ? p.datacastId : null
    return id === 1 ? { kind: 'nudge', text: '', typingUser: null } : { kind: 'datacast', text: id === null ? 'datacast' : DATACAST_NAMES[id] ?? `datacast ${id}`, typingUser: null }
  }
  if (p !== null && p.kind !== 'bytes') return null
  return cmd.payloadRaw === null ? null : parseMinimalMime(cmd.payloadRaw)
}

/** The few MIME facts a transcript needs, straight from the bytes. */
export function parseMinimalMime(raw: Buffer): ChatMessage | null {
  const text = raw.toString('utf8')
  let end = text.indexOf('\r\n\r\n')
  let sep = 4
  if (end < 0) { end = text.indexOf('\n\n'); sep = 2 }
  if (end < 0) return null
  const headers = new Map<string, string>()
  for (const line of text.slice(0, end).split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  const type = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  const body = text.slice(end + sep)
  if (type === 'text/plain') return { kind: 'text', text: body, typingUser: null }
  if (type === 'text/x-msmsgscontrol') return { kind: 'typing', text: '', typingUser: headers.get('typinguser') ?? null }
  if (type === 'text/x-msnmsgr-datacast') {
    const id = Number(/^ID:\s*(\d+)/im.exec(body)?.[1])
    return id === 1 ? { kind: 'nudge', text: '', typingUser: null } : { kind: 'datacast', text: DATACAST_NAMES[id] ?? 'datacast', typingUser: null }
  }
  return null
}

export class TranscriptWriter {
  chats = 0
  lines = 0
  readonly #boards = new Map<string, Board>()
  readonly #typing: boolean
  readonly #maxLines: number

  constructor(readonly write: (text: string) => void, options: TranscriptOptions = {}) {
    this.#typing = options.typing ?? true
    this.#maxLines = options.maxLines ?? 100_000
  }

  push(ev: ScopeEvent): void {
    if (ev.kind === 'session-close') {
      const b = this.#boards.get(ev.conn)
      if (b !== undefined) { this.#boards.delete(ev.conn); this.#flush(b) }
      return
    }
    if (ev.kind !== 'command') return
    const cmd = ev.command
    let b = this.#boards.get(ev.conn)
    if (b === undefined) {
      if (ev.role !== 'SB') return
      b = { conn: ev.conn, server: ev.server, transport: ev.transport, dialect: ev.dialect ?? null, local: null, others: [], lines: [], first: ev.ts }
      this.#boards.set(ev.conn, b)
    }
    if (ev.account != null) b.local = ev.account
    if (ev.dialect != null) b.dialect = ev.dialect
    const a = cmd.args
    if (cmd.from === 'server') {
      if (cmd.verb === 'JOI' && a[0] !== undefined) this.#meet(b, a[0])
      else if (cmd.verb === 'IRO' && a[2] !== undefined) this.#meet(b, a[2])
    } else if (cmd.verb === 'CAL' && a[0] !== undefined) this.#meet(b, a[0])
    if (cmd.verb !== 'MSG') return
    const m = chatMessage(cmd)
    if (m === null || (m.kind === 'typing' && !this.#typing)) return
    let from: string, to: string[]
    if (cmd.from === 'server') {
      from = bareAccount(a[0] ?? '?')
      this.#meet(b, from)
      to = [b.local ?? '(capture side)']
    } else {
      from = b.local ?? '(capture side)'
      to = b.others.length > 0 ? [...b.others] : ['?']
    }
    if (m.kind === 'typing' && m.typingUser !== null) from = bareAccount(m.typingUser)
    if (b.lines.length < this.#maxLines) b.lines.push({ ts: ev.ts, kind: m.kind, from, to, text: m.text })
  }

  /** Write the switchboards still open (the capture ended). */
  end(): void {
    const open = [...this.#boards.values()].sort((x, y) => Number(x.conn.slice(1)) - Number(y.conn.slice(1)))
    this.#boards.clear()
    for (const b of open) this.#flush(b)
  }

  #meet(b: Board, who: string): void {
    const acct = bareAccount(who)
    if (acct !== b.local && !b.others.includes(acct)) b.others.push(acct)
  }

  #flush(b: Board): void {
    if (b.lines.length === 0) return
    this.chats++
    const people = [b.local ?? '(capture side)', ...b.others].join(', ')
    const where = [b.server, b.transport === 'http' ? 'HTTP gateway' : null, b.dialect !== null ? `MSNP${b.dialect}` : null].filter((x) => x !== null).join(', ')
    let out = `== ${b.conn} switchboard${where !== '' ? ` (${where})` : ''}: ${people}\n`
    for (const l of b.lines) {
      this.lines++
      const time = l.ts.slice(0, 19).replace('T', ' ')
      const head = `${time}  ${l.from} -> ${l.to.join(', ')}: `
      if (l.kind === 'text') out += head + l.text.replace(/\r?\n/g, '\n' + ' '.repeat(21)) + '\n'
      else if (l.kind === 'typing') out += `${head}[typing]\n`
      else if (l.kind === 'nudge') out += `${head}[nudge]\n`
      else out += `${head}[${l.text}]\n`
    }
    this.write(out + '\n')
  }
}
