/**
 * The dashboard's panes on a blessed screen: connection tree and chat on the left, event list and
 * detail on the right (detail alone when zoomed), the title bar above and two lines below. Each
 * pane draws only what fits: the event list asks the store for the visible rows only, the chat
 * lays out the last screenful unless the user scrolls back, and the detail pane is rebuilt only
 * when the selected event changes.
 */
import blessed from 'blessed'
import type { ScopeEvent } from '../events.js'
import { eventLineSegments, fitSegments } from '../sinks/console.js'
import { ConnTable } from './conns.js'
import { detailLines } from './detail.js'
import type { ChatLine } from './chat.js'
import type { DashboardModel } from './model.js'
import { esc, plainText, segmentsToTags } from './tags.js'

export type Pane = 'list' | 'detail' | 'chat' | 'tree'
export const PANES: Pane[] = ['list', 'detail', 'chat', 'tree']

export interface Boxes {
  title: blessed.Widgets.BoxElement
  tree: blessed.Widgets.BoxElement
  chat: blessed.Widgets.BoxElement
  list: blessed.Widgets.BoxElement
  detail: blessed.Widgets.BoxElement
  status: blessed.Widgets.BoxElement
  prompt: blessed.Widgets.BoxElement
  overlay: blessed.Widgets.BoxElement
}

export const fmt = (n: number): string => n.toLocaleString('en-US')

export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, Math.max(0, max - 1))}…` : s
}

export function displayLen(s: string): number {
  let n = 0
  for (const ch of s) { const cp = ch.codePointAt(0) ?? 0; n += cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0x1f300 && cp <= 0x1faff)) ? 2 : 1 }
  return n
}

// eslint-disable-next-line no-control-regex
const sanitizeChat = (text: string): string => text.replace(/\r?\n|\r/g, ' ⏎ ').replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '·')

const quote = (s: string): string => (/[\s()&|!"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s)

/** Words of `text` in rows of `first` columns, then `rest` columns; words too long are cut. */
export function wrapWords(text: string, first: number, rest: number): string[] {
  const rows: string[] = []
  let row = ''
  let width = Math.max(1, first)
  const push = (): void => { rows.push(row); row = ''; width = Math.max(1, rest) }
  for (const word of text.split(' ')) {
    const w = displayLen(word)
    const sep = row === '' ? 0 : 1
    if (displayLen(row) + sep + w <= width) { row += (sep === 1 ? ' ' : '') + word; continue }
    if (row !== '') push()
    let piece = ''
    for (const ch of word) {
      if (displayLen(piece + ch) > width) { row = piece; push(); piece = '' }
      piece += ch
    }
    row = piece
  }
  rows.push(row)
  return rows
}

/** One chat line as screen rows of `width` columns: time and sender, then the text, indented when it wraps. */
export function chatRows(l: ChatLine, width: number): string[] {
  const t = /T(\d\d:\d\d:\d\d)/.exec(l.ts)?.[1] ?? l.ts.slice(0, 8)
  const who = l.who ?? '?'
  const color = l.from === 'client' ? 'green' : 'yellow'
  let prefix = `${t} `
  let prefixTags = `{gray-fg}${esc(t)}{/gray-fg} `
  let body: string
  let style = ''
  switch (l.kind) {
    case 'text':
      prefix += `${who}: `
      prefixTags += `{${color}-fg}{bold}${esc(who)}{/bold}{/${color}-fg}: `
      body = sanitizeChat(l.text)
      break
    case 'typing': body = `${who} is typing…`; style = 'gray-fg'; break
    case 'nudge': case 'wink': case 'voice': case 'action': case 'file': case 'invite':
      body = `* ${who} ${sanitizeChat(l.text)}`; style = 'magenta-fg'; break
    default: body = `— ${who} ${sanitizeChat(l.text)}`; style = 'gray-fg'
  }
  const styled = (text: string): string => (style === '' ? esc(text) : `{${style}}${esc(text)}{/${style}}`)
  const firstWidth = width - displayLen(prefix)
  if (firstWidth < 8) return [prefixTags.trimEnd(), ...wrapWords(body, width - 2, width - 2).map((r) => `  ${styled(r)}`)]
  const rows = wrapWords(body, firstWidth, width - 2)
  return rows.map((r, i) => (i === 0 ? prefixTags + styled(r) : `  ${styled(r)}`))
}

export class Panes {
  readonly boxes: Boxes
  focus: Pane = 'list'
  zoom = false
  treeSel = 0
  /** reset to redraw the detail / chat pane on the next frame */
  detailKey = ''
  chatKey = ''
  #listTop = 0
  #treeTop = 0
  #chatScroll: number | null = null
  readonly #screen: blessed.Widgets.Screen

  constructor(screen: blessed.Widgets.Screen, readonly model: DashboardModel) {
    this.#screen = screen
    const box = (opts: blessed.Widgets.BoxOptions): blessed.Widgets.BoxElement => blessed.box({ parent: screen, tags: true, wrap: false, ...opts })
    const framed = (label: string, scrollable = false, wrap = false): blessed.Widgets.BoxElement => box({
      label: ` ${label} `, border: { type: 'line' }, style: { border: { fg: 'gray' }, label: { fg: 'white' } },
      ...(scrollable ? { scrollable: true, alwaysScroll: true } : {}), wrap,
    })
    this.boxes = {
      title: box({ top: 0, left: 0, height: 1, style: { fg: 'white', bg: 'blue' } }),
      tree: framed('Connections'),
      chat: framed('Chat', true),  // lines are wrapped by chatRows()
      list: framed('Events'),
      detail: framed('Detail', true, true),
      status: box({ height: 1, style: { fg: 'white', bg: 'black' } }),
      prompt: box({ height: 1 }),
      overlay: box({ hidden: true, scrollable: true, alwaysScroll: true, border: { type: 'line' }, style: { border: { fg: 'cyan' }, bg: 'black' }, top: 'center', left: 'center', width: '90%', height: '90%' }),
    }
    this.layout()
  }

  /** Draw the four panes (the title and bottom lines are the app's). */
  draw(): void {
    if (!this.zoom) { this.drawList(); this.drawTree(); this.drawChat() }
    this.drawDetail()
    for (const p of PANES) this.boxes[p].style.border = { fg: p === this.focus ? 'cyan' : 'gray' }
  }

  /** Rows of the pane that Page Up/Down moves by. */
  pageSize(): number {
    const el = this.zoom ? this.boxes.detail : this.boxes[this.focus]
    return Math.max(1, this.innerHeight(el) - 1)
  }

  cycleFocus(back: boolean): void {
    const order: Pane[] = this.zoom ? ['detail'] : PANES
    const i = order.indexOf(this.focus)
    this.focus = order[(i + (back ? order.length - 1 : 1)) % order.length]!
  }

  layout(): void {
    const w = Math.max(40, (this.#screen.width as number) || 80)
    const h = Math.max(12, (this.#screen.height as number) || 24)
    const b = this.boxes
    const main = h - 3
    const left = this.zoom ? 0 : Math.max(24, Math.min(46, Math.floor(w * 0.27)))
    const treeH = Math.max(4, Math.floor(main * 0.5))
    const listH = this.zoom ? 0 : Math.max(5, Math.floor(main * 0.55))
    b.title.width = w
    for (const [el, top, lft, width, height] of [
      [b.tree, 1, 0, left, treeH], [b.chat, 1 + treeH, 0, left, main - treeH],
      [b.list, 1, left, w - left, listH], [b.detail, 1 + listH, left, w - left, main - listH],
    ] as const) {
      el.top = top; el.left = lft; el.width = width; el.height = height
      if (width <= 0 || height <= 0) el.hide()
      else el.show()
    }
    b.status.top = h - 2; b.status.left = 0; b.status.width = w
    b.prompt.top = h - 1; b.prompt.left = 0; b.prompt.width = w
  }

  innerWidth(el: blessed.Widgets.BoxElement): number { return Math.max(1, (el.width as number) - 2) }
  innerHeight(el: blessed.Widgets.BoxElement): number { return Math.max(1, (el.height as number) - 2) }

  drawList(): void {
    const m = this.model
    const box = this.boxes.list
    const height = this.innerHeight(box)
    const width = this.innerWidth(box)
    const n = m.listLength
    const sel = m.selPos
    if (sel >= 0) {
      if (m.follow || sel >= this.#listTop + height) this.#listTop = Math.max(0, sel - height + 1)
      if (sel < this.#listTop) this.#listTop = sel
    }
    this.#listTop = Math.max(0, Math.min(this.#listTop, Math.max(0, n - height)))
    const lines: string[] = []
    for (let pos = this.#listTop; pos < Math.min(n, this.#listTop + height); pos++) {
      const ev = m.store.get(m.view.at(pos))
      if (ev === undefined) { lines.push('{gray-fg}(event no longer available){/}'); continue }
      const segs = fitSegments(eventLineSegments(ev, { held: m.held.has(ev.seq), marked: m.marked.has(ev.seq) }), width)
      if (pos === sel) {
        const text = plainText(segs)
        lines.push(`{inverse}${esc(text)}${' '.repeat(Math.max(0, width - displayLen(text)))}{/inverse}`)
      } else lines.push(segmentsToTags(segs))
    }
    if (n === 0) lines.push(m.view.filter !== null ? (m.view.scanning ? '{gray-fg}matching…{/}' : '{gray-fg}no events match the filter (f to change it){/}') : '{gray-fg}waiting for events…{/}')
    box.setContent(lines.join('\n'))
    const dropped = m.view.dropped > 0 ? ` (${fmt(m.view.dropped)} older matches not listed)` : ''
    box.setLabel(` Events ${sel >= 0 ? `${fmt(sel + 1)}/` : ''}${fmt(n)}${dropped} `)
  }

  selectedConn(): string | null {
    const idx = this.model.selected
    return idx < 0 ? null : this.model.store.get(idx)?.conn ?? null
  }

  drawTree(): void {
    const m = this.model
    const box = this.boxes.tree
    const rows = m.conns.rows()
    const height = this.innerHeight(box)
    const width = this.innerWidth(box)
    const selConn = this.selectedConn()
    this.treeSel = Math.max(0, Math.min(this.treeSel, rows.length - 1))
    if (this.focus !== 'tree' && selConn !== null) {
      const at = rows.findIndex((r) => r.conn === selConn)
      if (at >= 0) this.treeSel = at
    }
    if (this.treeSel < this.#treeTop) this.#treeTop = this.treeSel
    if (this.treeSel >= this.#treeTop + height) this.#treeTop = this.treeSel - height + 1
    const lines: string[] = []
    for (let i = this.#treeTop; i < Math.min(rows.length, this.#treeTop + height); i++) {
      const r = rows[i]!
      let text: string
      if (r.conn === null) text = `{bold}${esc(clip(r.account, width))}{/bold}`
      else {
        const n = m.conns.get(r.conn)
        if (n === undefined) continue
        const state = ConnTable.describeState(n)
        const dialect = n.dialect !== null ? ` MSNP${n.dialect}` : ''
        const gw = n.transport === 'http' ? ' {cyan-fg}[gw]{/cyan-fg}' : ''
        const plain = `${r.prefix}${n.conn} ${n.role}${dialect}${n.transport === 'http' ? ' [gw]' : ''} ${state}`
        const stateColor = n.open ? 'green' : 'gray'
        text = i === this.treeSel && this.focus === 'tree'
          ? `{inverse}${esc(clip(plain, width).padEnd(width))}{/inverse}`
          : `${esc(r.prefix)}{bold}${esc(n.conn)}{/bold} {cyan-fg}${n.role}{/cyan-fg}${esc(dialect)}${gw} {${stateColor}-fg}${esc(clip(state, Math.max(4, width - displayLen(plain) + displayLen(state))))}{/${stateColor}-fg}`
        if (r.conn === selConn && !(i === this.treeSel && this.focus === 'tree')) text = `{yellow-fg}▸{/yellow-fg}${text}`
      }
      lines.push(text)
    }
    if (rows.length === 0) lines.push('{gray-fg}no connections yet{/}')
    box.setContent(lines.join('\n'))
    box.setLabel(` Connections ${m.conns.openCount}/${m.conns.size} `)
  }

  chatConn(): string | null {
    const m = this.model
    if (this.focus === 'tree') {
      const row = m.conns.rows()[this.treeSel]
      if (row?.conn != null && m.chat.has(row.conn)) return row.conn
    }
    const sel = this.selectedConn()
    if (sel !== null && m.chat.has(sel)) return sel
    return m.chat.latest
  }

  drawChat(): void {
    const m = this.model
    const box = this.boxes.chat
    const conn = this.chatConn()
    const conv = conn === null ? undefined : m.chat.get(conn)
    const width = this.innerWidth(box)
    const height = this.innerHeight(box)
    // while the user reads back (scrolled), the transcript stays still
    if (this.focus !== 'chat') this.#chatScroll = null
    const key = this.#chatScroll !== null ? `${conn}:scrolled:${width}:${this.#chatScroll}` : `${conn}:${conv?.version ?? 0}:${width}:${height}`
    if (key === this.chatKey) return
    this.chatKey = key
    if (conv === undefined) {
      box.setLabel(' Chat ')
      box.setContent('{gray-fg}no chat yet{/}')
      return
    }
    const node = m.conns.get(conv.conn)
    const who = node !== undefined ? [node.account, ...node.participants].filter((x) => x !== null).join(' ⇄ ') : ''
    box.setLabel(` Chat ${conv.conn}${who !== '' ? ` ${clip(who, Math.max(8, width - 12))}` : ''} `)
    // following the conversation, only the last screenful is laid out
    let lines: string[] = []
    if (this.#chatScroll === null) {
      // whole lines only, the newest at the bottom
      for (let i = conv.lines.length - 1; i >= 0; i--) {
        const rows = chatRows(conv.lines[i]!, width)
        if (lines.length + rows.length > height && lines.length > 0) break
        lines = [...rows, ...lines]
      }
      while (lines.length < height) lines.unshift('')
    } else {
      if (conv.dropped > 0) lines.push(`{gray-fg}(${fmt(conv.dropped)} earlier lines){/}`)
      for (const l of conv.lines) lines.push(...chatRows(l, width))
    }
    box.setContent(lines.join('\n'))
    const max = Math.max(0, box.getScrollHeight() - height)
    box.scrollTo(this.#chatScroll === null ? max + height : Math.min(this.#chatScroll, max))
  }

  drawDetail(): void {
    const m = this.model
    const box = this.boxes.detail
    const idx = m.selected
    const ev = idx >= 0 ? m.store.get(idx) : undefined
    const key = `${ev?.seq ?? -1}:${idx}:${this.zoom}:${box.width}:${ev !== undefined && m.held.has(ev.seq)}:${ev !== undefined && m.marked.has(ev.seq)}`
    if (key === this.detailKey) return
    this.detailKey = key
    if (ev === undefined) { box.setContent('{gray-fg}select an event to see it in detail{/}'); box.setLabel(' Detail '); return }
    const extra: string[] = []
    if (m.held.has(ev.seq)) extra.push('{black-fg}{yellow-bg}{bold} HELD {/}  a: release   e: edit and release')
    if (m.marked.has(ev.seq)) extra.push('{cyan-fg}{bold}● marked{/}')
    box.setContent(detailLines(ev, extra).join('\n'))
    box.setLabel(` Detail #${ev.seq} `)
    box.scrollTo(0)
  }

  setZoom(on: boolean): void {
    this.zoom = on
    this.focus = on ? 'detail' : 'list'
    this.layout()
    this.detailKey = ''
    this.chatKey = ''
  }

  move(delta: number): void {
    const m = this.model
    switch (this.zoom ? 'detail' : this.focus) {
      case 'list': m.move(delta); return
      case 'detail': this.boxes.detail.scroll(delta); return
      case 'chat': {
        const box = this.boxes.chat
        if (this.#chatScroll === null) {
          // lay out the whole transcript, at its end, before moving back in it
          this.#chatScroll = Number.MAX_SAFE_INTEGER
          this.chatKey = ''
          this.drawChat()
        }
        const max = Math.max(0, box.getScrollHeight() - this.innerHeight(box))
        const next = Math.max(0, Math.min(max, Math.min(this.#chatScroll, max) + delta))
        this.#chatScroll = next >= max && delta > 0 ? null : next
        return
      }
      case 'tree': this.treeSel = Math.max(0, this.treeSel + delta); return
    }
  }

  home(): void {
    if (this.zoom || this.focus === 'detail') { this.boxes.detail.scrollTo(0); return }
    if (this.focus === 'tree') { this.treeSel = 0; return }
    if (this.focus === 'chat') { this.move(-Number.MAX_SAFE_INTEGER / 2); return }
    this.model.follow = false
    this.model.selectPos(0)
  }

  end(): void {
    if (this.zoom || this.focus === 'detail') { this.boxes.detail.setScrollPerc(100); return }
    if (this.focus === 'tree') { this.treeSel = this.model.conns.rows().length - 1; return }
    if (this.focus === 'chat') { this.#chatScroll = null; return }
    this.model.setFollow(true)
  }

  /** The filter Enter on the connection tree applies: that connection, or every connection of that account. */
  treeFilter(): string | null {
    const row = this.model.conns.rows()[this.treeSel]
    if (row === undefined) return null
    return row.conn === null ? `~account ${quote(row.account)}` : `~conn ${row.conn}`
  }

  selectedEvent(): ScopeEvent | undefined {
    const idx = this.model.selected
    return idx < 0 ? undefined : this.model.store.get(idx)
  }
}
