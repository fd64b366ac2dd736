/**
 * Chat transcripts per connection, for the chat pane: text, nudges, winks, file offers, joins and
 * departures, from event-view's chatItem(). Repeated typing notifications collapse into one line.
 * Bounded: `maxLines` per conversation and `maxConversations` conversations (oldest forgotten).
 */
import type { ScopeEvent } from '../events.js'
import { chatItem, type ChatItem } from '../event-view.js'

export interface ChatLine extends ChatItem {
  ts: string
  /** store index of the event, so the list can jump to it */
  index: number
  from: 'client' | 'server'
}

export interface Conversation {
  conn: string
  lines: ChatLine[]
  /** lines that fell off the front */
  dropped: number
  /** bumped on every change, so a pane knows when to redraw */
  version: number
}

export class ChatLog {
  readonly #convs = new Map<string, Conversation>()
  readonly #maxLines: number
  readonly #maxConversations: number
  /** the conversation that changed last */
  latest: string | null = null

  constructor(maxLines = 1000, maxConversations = 2000) {
    this.#maxLines = maxLines
    this.#maxConversations = maxConversations
  }

  get(conn: string): Conversation | undefined { return this.#convs.get(conn) }
  has(conn: string): boolean { return this.#convs.has(conn) }

  add(ev: ScopeEvent, index: number): void {
    if (ev.kind !== 'command') return
    const item = chatItem(ev)
    if (item === null) return
    let conv = this.#convs.get(ev.conn)
    if (conv === undefined) {
      conv = { conn: ev.conn, lines: [], dropped: 0, version: 0 }
      this.#convs.set(ev.conn, conv)
      if (this.#convs.size > this.#maxConversations) this.#convs.delete(this.#convs.keys().next().value as string)
    }
    const line: ChatLine = { ...item, ts: ev.ts, index, from: ev.command.from }
    const last = conv.lines[conv.lines.length - 1]
    // a typing line gives way to the next typing line or the message of the same person
    if ((item.kind === 'typing' || item.kind === 'text') && last !== undefined && last.kind === 'typing' && last.who === item.who) conv.lines[conv.lines.length - 1] = line
    else conv.lines.push(line)
    // trim in batches: cutting one line per message would copy the whole array every time
    if (conv.lines.length > this.#maxLines * 1.25) {
      const cut = conv.lines.length - this.#maxLines
      conv.lines.splice(0, cut)
      conv.dropped += cut
    }
    conv.version++
    this.latest = ev.conn
  }

  forget(conns: string[]): void {
    for (const c of conns) this.#convs.delete(c)
    if (this.latest !== null && !this.#convs.has(this.latest)) this.latest = null
  }
}
