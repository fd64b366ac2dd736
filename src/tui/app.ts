/**
 * The terminal dashboard: live MSN traffic at a glance (event list, connection tree, chat,
 * status line) and in depth (detail pane with decoded fields, MIME, P2P header table and hex).
 * Sources (live proxy, capture import, demo) call openDashboard() and push() events; features
 * that need the source (intercept, replay, rule reload) go through the optional `controls` and
 * say "not available for this source" when a control is absent.
 *
 * It sees only events, never sockets. push() is cheap and never draws: frames are drawn at a
 * steady rate while traffic flows, and at once after a key, so keys never wait behind traffic.
 * Memory stays under `memoryCap` (RSS): the in-memory share of the event store shrinks when the
 * process grows, and older events are spilled to a temporary file that is removed on close.
 */
import { createWriteStream, openSync } from 'node:fs'
import { ReadStream } from 'node:tty'
import blessed from 'blessed'
import type { CommandScopeEvent, ScopeEvent } from '../events.js'
import { parseFilter, checkFilter, type EventFilter } from '../filter.js'
import { toJsonLine } from '../sinks/json.js'
import { eventLineSegments, fitSegments } from '../sinks/console.js'
import { esc, plainText, segmentsToTags } from './tags.js'
import { DashboardModel } from './model.js'
import { detailLines } from './detail.js'
import { helpLines } from './help.js'
import { ConnTable } from './conns.js'
import { LineEditor, TextEditor, type KeyInfo } from './editors.js'
import { initialBudget, MemoryGovernor } from './memory.js'

export const DEFAULT_MEMORY_CAP = 300 * 1024 * 1024

/** What a source may let the dashboard do. Absent controls are shown as not available. */
export interface DashboardControls {
  /** hold commands matching the filter (null: stop intercepting); held ones are pushed with `{ held: true }` */
  intercept?(filter: EventFilter | null): void
  /** let a held command go, as it was or as edited (bytes of the whole command, length already fixed) */
  release?(seq: number, editedBytes?: Buffer): void
  /** replay one command or a whole session; may return a message to show */
  replay?(request: ReplayRequest): void | string | Promise<void | string>
  /** reload rule files; may return a message to show (e.g. how many rules loaded) */
  reloadRules?(): void | string | Promise<void | string>
  /** write events somewhere else than the built-in JSON lines writer (e.g. pcap); returns the count */
  saveEvents?(path: string, events: AsyncIterable<ScopeEvent>): Promise<number>
}

export type ReplayRequest =
  | { kind: 'command'; event: CommandScopeEvent }
  | { kind: 'session'; conn: string; events: CommandScopeEvent[] }

export interface DashboardIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  /** closing the dashboard when it aborts (SIGTERM) */
  stopSignal?: AbortSignal
}

export interface DashboardOptions {
  io: DashboardIo
  /** shown in the title bar: "read capture.pcap", "proxy 127.0.0.1:1863" */
  title: string
  /** RSS to stay under, in bytes (default 300 MB); a number below 1 MiB is taken as megabytes */
  memoryCap?: number
  controls?: DashboardControls
  /** frames per second while traffic flows (default 10) */
  fps?: number
  /** where the spill file goes (default: the system temp directory) */
  spillDir?: string
}

export interface DashboardStats {
  events: number
  frames: number
  /** frames drawn in the last second */
  fps: number
  inMemory: number
  spilledBytes: number
  peakRss: number
  /** full garbage collections the memory cap asked for */
  collections: number
  /** time spent drawing a frame */
  drawMsAvg: number
  drawMsMax: number
}

export interface Dashboard {
  push(event: ScopeEvent, options?: { held?: boolean }): void
  /** the source let a held command go by itself (timeout, connection closed) */
  released(seq: number): void
  /** show a message on the bottom line (a warning from the source, say) */
  notify(text: string, error?: boolean): void
  /** the source has no more events (end of a capture); the dashboard stays until the user quits */
  end(): void
  /** resolves after the dashboard had a turn: await it every few thousand events in a tight loop */
  idle(): Promise<void>
  close(): void
  readonly closed: Promise<void>
  readonly isClosed: boolean
  stats(): DashboardStats
}

/** `300`, `300M`, `300MB`, `1.5G`, `512k` → bytes (a bare number is megabytes). */
export function parseMemoryCap(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(text)
  if (m === null) throw new Error(`not a memory size: "${text}" (try 300M or 1G)`)
  const unit = m[2]!.toLowerCase()
  const mult = unit === 'k' ? 1024 : unit === 'g' ? 1024 ** 3 : 1024 ** 2
  const bytes = Math.round(Number(m[1]) * mult)
  if (bytes < 32 * 1024 * 1024) throw new Error(`memory cap ${text} is too small (at least 32M)`)
  return bytes
}

type Pane = 'list' | 'detail' | 'chat' | 'tree'
const PANES: Pane[] = ['list', 'detail', 'chat', 'tree']
const NOT_AVAILABLE = 'not available for this source'
const fmt = (n: number): string => n.toLocaleString('en-US')
function bytesText(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`
  return `${(n / 1024 ** 3).toFixed(2)} GB`
}

interface Prompt {
  label: string
  editor: LineEditor
  /** filter prompts explain errors while typing */
  validate: boolean
  submit(value: string): void
}

export function openDashboard(options: DashboardOptions): Dashboard {
  return new DashboardApp(options).handle
}

class DashboardApp {
  readonly handle: Dashboard
  readonly #model: DashboardModel
  readonly #controls: DashboardControls
  readonly #title: string
  readonly #cap: number
  readonly #frameMs: number
  readonly #screen: blessed.Widgets.Screen
  readonly #ttyIn: ReadStream | null
  readonly #boxes: {
    title: blessed.Widgets.BoxElement; tree: blessed.Widgets.BoxElement; chat: blessed.Widgets.BoxElement
    list: blessed.Widgets.BoxElement; detail: blessed.Widgets.BoxElement; status: blessed.Widgets.BoxElement
    prompt: blessed.Widgets.BoxElement; overlay: blessed.Widgets.BoxElement
  }

  #focus: Pane = 'list'
  #zoom = false
  #listTop = 0
  #treeSel = 0
  #treeTop = 0
  #chatScroll: number | null = null
  #detailKey = ''
  #chatKey = ''
  #prompt: Prompt | null = null
  #confirm: { text: string; yes: () => void } | null = null
  #overlay: 'help' | 'edit' | null = null
  #editor: { editor: TextEditor; seq: number; original: CommandScopeEvent } | null = null
  #message: { text: string; error: boolean; until: number } | null = null
  #search: EventFilter | null = null
  #previousFilter: EventFilter | null = null
  readonly #history: string[] = []

  #closed = false
  #resolveClosed!: () => void
  #frameTimer: NodeJS.Timeout | null = null
  #immediate: NodeJS.Immediate | null = null
  #lastFrame = 0
  #frames = 0
  #drawMs = 0
  #drawMsMax = 0
  #framesThisSecond = 0
  #fps = 0
  #rate = 0
  #lastCount = 0
  readonly #memory: MemoryGovernor
  readonly #tick: NodeJS.Timeout
  readonly #memTick: NodeJS.Timeout
  #scanning = false

  constructor(options: DashboardOptions) {
    this.#controls = options.controls ?? {}
    this.#title = options.title
    const cap = options.memoryCap ?? DEFAULT_MEMORY_CAP
    // the CLI's --memory-cap parses to megabytes; bytes are accepted too
    this.#cap = cap < 1024 * 1024 ? cap * 1024 * 1024 : cap
    this.#frameMs = 1000 / (options.fps ?? 10)
    this.#model = new DashboardModel({ memoryBudget: initialBudget(this.#cap), ...(options.spillDir !== undefined ? { spillDir: options.spillDir } : {}) })
    this.#memory = new MemoryGovernor(this.#model.store, this.#cap)

    const io = options.io
    let input: NodeJS.ReadableStream = io.stdin
    this.#ttyIn = null
    if (io.stdin.isTTY !== true) {
      // events may come from stdin (a pipe); keys then come from the terminal itself
      try { this.#ttyIn = new ReadStream(openSync('/dev/tty', 'r')); input = this.#ttyIn } catch { /* no terminal: keys unavailable */ }
    }
    this.#screen = blessed.screen({
      input: input as never, output: io.stdout as never, smartCSR: true, fullUnicode: true, warnings: false,
      autoPadding: false, dockBorders: true, title: `msnscope ${options.title}`, terminal: io.env.TERM ?? 'xterm',
      sendFocus: false, useBCE: true, forceUnicode: !nonUtf8Locale(io.env),
    } as blessed.Widgets.IScreenOptions)
    // on a UTF-8 terminal draw lines as UTF-8 rather than switching to the DEC line-drawing set
    // for every border character (slower, and garbled when a multiplexer mixes the two)
    const tput = (this.#screen as unknown as { tput?: { brokenACS?: boolean } }).tput
    if (tput !== undefined && !nonUtf8Locale(io.env)) tput.brokenACS = true
    const box = (opts: blessed.Widgets.BoxOptions): blessed.Widgets.BoxElement => blessed.box({ parent: this.#screen, tags: true, wrap: false, ...opts })
    const framed = (label: string, scrollable = false): blessed.Widgets.BoxElement => box({
      label: ` ${label} `, border: { type: 'line' }, style: { border: { fg: 'gray' }, label: { fg: 'white' } },
      ...(scrollable ? { scrollable: true, alwaysScroll: true, wrap: true } : {}),
    })
    this.#boxes = {
      title: box({ top: 0, left: 0, height: 1, style: { fg: 'white', bg: 'blue' } }),
      tree: framed('Connections'),
      chat: framed('Chat', true),
      list: framed('Events'),
      detail: framed('Detail', true),
      status: box({ height: 1, style: { fg: 'white', bg: 'black' } }),
      prompt: box({ height: 1 }),
      overlay: box({ hidden: true, scrollable: true, alwaysScroll: true, border: { type: 'line' }, style: { border: { fg: 'cyan' }, bg: 'black' }, top: 'center', left: 'center', width: '90%', height: '90%' }),
    }
    this.#boxes.detail.setContent('')
    this.#layout()
    this.#screen.on('resize', () => { this.#layout(); this.#detailKey = ''; this.#chatKey = ''; this.#draw() })
    this.#screen.on('keypress', (ch: string | undefined, key: KeyInfo) => this.#key(ch, key))

    const closed = new Promise<void>((resolve) => { this.#resolveClosed = resolve })
    this.#tick = setInterval(() => this.#everySecond(), 1000)
    this.#tick.unref?.()
    this.#memTick = setInterval(() => this.#memory.check(), 250)
    this.#memTick.unref?.()
    if (io.stopSignal !== undefined) {
      if (io.stopSignal.aborted) queueMicrotask(() => this.#close())
      else io.stopSignal.addEventListener('abort', () => this.#close(), { once: true })
    }

    const self = this
    this.handle = {
      push: (event, opts) => {
        if (self.#closed) return
        self.#model.push(event, opts?.held === true)
        if (opts?.held === true) self.#say(`holding #${event.seq} ${event.kind === 'command' ? event.command.verb : event.kind}: a to release, e to edit`)
        self.#requestFrame(false)
      },
      released: (seq) => { if (self.#model.released(seq)) self.#requestFrame(false) },
      notify: (text, error) => self.#say(text, error === true),
      end: () => { self.#model.ended = true; self.#requestFrame(true) },
      idle: () => new Promise<void>((resolve) => setImmediate(resolve)),
      close: () => self.#close(),
      closed,
      get isClosed() { return self.#closed },
      stats: () => ({
        events: self.#model.counters.events, frames: self.#frames, fps: self.#fps,
        inMemory: self.#model.store.inMemory, spilledBytes: self.#model.store.spilledBytes, peakRss: self.#memory.peakRss,
        collections: self.#memory.collections, drawMsAvg: self.#frames > 0 ? self.#drawMs / self.#frames : 0, drawMsMax: self.#drawMsMax,
      }),
    }
    this.#draw()
  }

  // ── layout and drawing ───────────────────────────────────────────────────────────────────

  #layout(): void {
    const w = Math.max(40, (this.#screen.width as number) || 80)
    const h = Math.max(12, (this.#screen.height as number) || 24)
    const b = this.#boxes
    const main = h - 3
    const left = this.#zoom ? 0 : Math.max(24, Math.min(46, Math.floor(w * 0.27)))
    const treeH = Math.max(4, Math.floor(main * 0.5))
    const listH = this.#zoom ? 0 : Math.max(5, Math.floor(main * 0.55))
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

  #requestFrame(urgent: boolean): void {
    if (this.#closed) return
    if (urgent) {
      if (this.#immediate === null) this.#immediate = setImmediate(() => { this.#immediate = null; this.#draw() })
      return
    }
    if (this.#frameTimer !== null || this.#immediate !== null) return
    const wait = Math.max(0, this.#lastFrame + this.#frameMs - Date.now())
    this.#frameTimer = setTimeout(() => { this.#frameTimer = null; this.#draw() }, wait)
  }

  #draw(): void {
    if (this.#closed) return
    const t0 = performance.now()
    try {
      this.#drawFrame()
      const ms = performance.now() - t0
      this.#drawMs += ms
      if (ms > this.#drawMsMax) this.#drawMsMax = ms
    } catch (err) {
      // a drawing bug must not take the source (a live proxy) down with it
      this.#message = { text: `display error: ${err instanceof Error ? err.message : String(err)}`, error: true, until: Date.now() + 10_000 }
      try { this.#drawPrompt(); this.#screen.render() } catch { /* nothing more to do */ }
    }
  }

  #drawFrame(): void {
    if (this.#frameTimer !== null) { clearTimeout(this.#frameTimer); this.#frameTimer = null }
    this.#lastFrame = Date.now()
    this.#frames++
    this.#framesThisSecond++
    this.#drawTitle()
    if (!this.#zoom) { this.#drawList(); this.#drawTree(); this.#drawChat() }
    this.#drawDetail()
    this.#drawStatus()
    this.#drawPrompt()
    this.#drawOverlay()
    for (const p of PANES) this.#boxes[p].style.border = { fg: p === this.#focus ? 'cyan' : 'gray' }
    this.#screen.render()
    if (this.#model.view.scanning) this.#scanMore()
  }

  #scanMore(): void {
    if (this.#scanning) return
    this.#scanning = true
    setImmediate(() => {
      this.#scanning = false
      if (this.#closed) return
      const t0 = Date.now()
      while (!this.#model.view.scan(2000) && Date.now() - t0 < 30) { /* keep matching for up to 30 ms */ }
      this.#requestFrame(!this.#model.view.scanning)
      if (this.#model.view.scanning) this.#scanMore()
    })
  }

  #innerWidth(el: blessed.Widgets.BoxElement): number { return Math.max(1, (el.width as number) - 2) }
  #innerHeight(el: blessed.Widgets.BoxElement): number { return Math.max(1, (el.height as number) - 2) }

  #drawTitle(): void {
    const m = this.#model
    const parts: string[] = [`{bold} msnscope{/bold} · ${esc(this.#title)}`]
    const right: string[] = []
    if (m.paused) right.push(`{yellow-fg}{bold}PAUSED{/bold} +${fmt(Math.max(0, m.view.length - m.listLength))}{/yellow-fg}`)
    else if (m.follow) right.push('{green-fg}{bold}FOLLOW{/bold}{/green-fg}')
    const f = m.view.filter
    if (f !== null) right.push(`filter {bold}${esc(f.source)}{/bold} (${fmt(m.view.length)} shown${m.view.scanning ? `, matching ${Math.floor(m.view.progress * 100)}%` : ''})`)
    if (m.intercept !== null) right.push(`{yellow-fg}intercept {bold}${esc(m.intercept.source)}{/bold} (${fmt(m.held.size)} held){/yellow-fg}`)
    if (m.ended) right.push('{cyan-fg}end of input{/cyan-fg}')
    right.push('?:help ')
    this.#boxes.title.setContent(`${parts.join('')}{|}${right.join('  ')}`)
  }

  #drawList(): void {
    const m = this.#model
    const box = this.#boxes.list
    const height = this.#innerHeight(box)
    const width = this.#innerWidth(box)
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

  #selectedConn(): string | null {
    const idx = this.#model.selected
    return idx < 0 ? null : this.#model.store.get(idx)?.conn ?? null
  }

  #drawTree(): void {
    const m = this.#model
    const box = this.#boxes.tree
    const rows = m.conns.rows()
    const height = this.#innerHeight(box)
    const width = this.#innerWidth(box)
    const selConn = this.#selectedConn()
    this.#treeSel = Math.max(0, Math.min(this.#treeSel, rows.length - 1))
    if (this.#focus !== 'tree' && selConn !== null) {
      const at = rows.findIndex((r) => r.conn === selConn)
      if (at >= 0) this.#treeSel = at
    }
    if (this.#treeSel < this.#treeTop) this.#treeTop = this.#treeSel
    if (this.#treeSel >= this.#treeTop + height) this.#treeTop = this.#treeSel - height + 1
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
        text = i === this.#treeSel && this.#focus === 'tree'
          ? `{inverse}${esc(clip(plain, width).padEnd(width))}{/inverse}`
          : `${esc(r.prefix)}{bold}${esc(n.conn)}{/bold} {cyan-fg}${n.role}{/cyan-fg}${esc(dialect)}${gw} {${stateColor}-fg}${esc(clip(state, Math.max(4, width - displayLen(plain) + displayLen(state))))}{/${stateColor}-fg}`
        if (r.conn === selConn && !(i === this.#treeSel && this.#focus === 'tree')) text = `{yellow-fg}▸{/yellow-fg}${text}`
      }
      lines.push(text)
    }
    if (rows.length === 0) lines.push('{gray-fg}no connections yet{/}')
    box.setContent(lines.join('\n'))
    box.setLabel(` Connections ${m.conns.openCount}/${m.conns.size} `)
  }

  #chatConn(): string | null {
    const m = this.#model
    if (this.#focus === 'tree') {
      const row = m.conns.rows()[this.#treeSel]
      if (row?.conn != null && m.chat.has(row.conn)) return row.conn
    }
    const sel = this.#selectedConn()
    if (sel !== null && m.chat.has(sel)) return sel
    return m.chat.latest
  }

  #drawChat(): void {
    const m = this.#model
    const box = this.#boxes.chat
    const conn = this.#chatConn()
    const conv = conn === null ? undefined : m.chat.get(conn)
    const width = this.#innerWidth(box)
    const height = this.#innerHeight(box)
    // while the user reads back (scrolled), the transcript stays still
    if (this.#focus !== 'chat') this.#chatScroll = null
    const key = this.#chatScroll !== null ? `${conn}:scrolled:${width}:${this.#chatScroll}` : `${conn}:${conv?.version ?? 0}:${width}:${height}`
    if (key === this.#chatKey) return
    this.#chatKey = key
    if (conv === undefined) {
      box.setLabel(' Chat ')
      box.setContent('{gray-fg}no chat yet{/}')
      return
    }
    const node = m.conns.get(conv.conn)
    const who = node !== undefined ? [node.account, ...node.participants].filter((x) => x !== null).join(' ⇄ ') : ''
    box.setLabel(` Chat ${conv.conn}${who !== '' ? ` ${clip(who, Math.max(8, width - 12))}` : ''} `)
    const lines: string[] = []
    // following the conversation, only the last screenful is laid out
    const from = this.#chatScroll === null ? Math.max(0, conv.lines.length - height) : 0
    if (from === 0 && conv.dropped > 0) lines.push(`{gray-fg}(${fmt(conv.dropped)} earlier lines){/}`)
    for (let i = from; i < conv.lines.length; i++) {
      const l = conv.lines[i]!
      const t = l.ts.slice(11, 19)
      const who = l.who ?? '?'
      const color = l.from === 'client' ? 'green' : 'yellow'
      switch (l.kind) {
        case 'text': {
          const text = sanitizeChat(l.text)
          lines.push(`{gray-fg}${esc(t)}{/gray-fg} {${color}-fg}{bold}${esc(who)}{/bold}{/${color}-fg}: ${esc(text)}`)
          break
        }
        case 'typing': lines.push(`{gray-fg}${esc(t)} ${esc(who)} is typing…{/gray-fg}`); break
        case 'nudge': case 'wink': case 'voice': case 'action': case 'file': case 'invite':
          lines.push(`{gray-fg}${esc(t)}{/gray-fg} {magenta-fg}* ${esc(who)} ${esc(sanitizeChat(l.text))}{/magenta-fg}`)
          break
        default: lines.push(`{gray-fg}${esc(t)} — ${esc(who)} ${esc(l.text)}{/gray-fg}`)
      }
    }
    box.setContent(lines.join('\n'))
    const max = Math.max(0, box.getScrollHeight() - height)
    box.scrollTo(this.#chatScroll === null ? max + height : Math.min(this.#chatScroll, max))
  }

  #drawDetail(): void {
    const m = this.#model
    const box = this.#boxes.detail
    const idx = m.selected
    const ev = idx >= 0 ? m.store.get(idx) : undefined
    const key = `${ev?.seq ?? -1}:${idx}:${this.#zoom}:${box.width}:${ev !== undefined && m.held.has(ev.seq)}:${ev !== undefined && m.marked.has(ev.seq)}`
    if (key === this.#detailKey) return
    this.#detailKey = key
    if (ev === undefined) { box.setContent('{gray-fg}select an event to see it in detail{/}'); box.setLabel(' Detail '); return }
    const extra: string[] = []
    if (m.held.has(ev.seq)) extra.push('{black-fg}{yellow-bg}{bold} HELD {/}  a: release   e: edit and release')
    if (m.marked.has(ev.seq)) extra.push('{cyan-fg}{bold}● marked{/}')
    box.setContent(detailLines(ev, extra).join('\n'))
    box.setLabel(` Detail #${ev.seq} `)
    box.scrollTo(0)
  }

  #drawStatus(): void {
    const m = this.#model
    const c = m.counters
    const box = this.#boxes.status
    if (this.#prompt !== null && this.#prompt.validate) {
      const err = checkFilter(this.#prompt.editor.value)
      if (err === null) box.setContent(this.#prompt.editor.value.trim() === '' ? '{gray-fg} empty: no filter{/}' : '{green-fg} ✓ valid filter{/}')
      else {
        const col = this.#prompt.label.length + 2 + err.position
        const width = (box.width as number) || 80
        const msg = `✗ ${err.message}`
        const line = col + 2 + msg.length <= width ? `${' '.repeat(col)}{red-fg}{bold}^{/bold} ${esc(msg)}{/red-fg}` : `{red-fg}${esc(clip(msg, Math.max(10, width - 2)))}{/red-fg}`
        box.setContent(line)
      }
      return
    }
    const parts = [
      `{bold}${fmt(c.events)}{/bold} events`,
      `${fmt(this.#rate)}/s`,
      `conns ${fmt(m.conns.openCount)} open / ${fmt(m.conns.size)}`,
      bytesText(c.bytes),
      `${c.blocked > 0 ? '{red-fg}' : ''}blocked ${fmt(c.blocked)}${c.blocked > 0 ? '{/red-fg}' : ''}`,
      `${c.rewritten > 0 ? '{yellow-fg}' : ''}rewritten ${fmt(c.rewritten)}${c.rewritten > 0 ? '{/yellow-fg}' : ''}`,
      `rule hits ${fmt(c.ruleHits)}`,
    ]
    if (c.errors > 0) parts.push(`{red-fg}errors ${fmt(c.errors)}{/red-fg}`)
    if (m.held.size > 0) parts.push(`{yellow-fg}{bold}held ${fmt(m.held.size)}{/bold}{/yellow-fg}`)
    if (m.marked.size > 0) parts.push(`marked ${fmt(m.marked.size)}`)
    const spilled = m.store.size - m.store.inMemory
    if (spilled > 0) parts.push(`{gray-fg}${fmt(spilled)} on disk{/gray-fg}`)
    box.setContent(` ${parts.join(' · ')}`)
  }

  #drawPrompt(): void {
    const box = this.#boxes.prompt
    const width = (box.width as number) || 80
    if (this.#confirm !== null) { box.setContent(`{yellow-fg}{bold}${esc(this.#confirm.text)}{/} (y/n)`); return }
    if (this.#prompt !== null) {
      const label = `${this.#prompt.label}: `
      box.setContent(`{bold}${esc(label)}{/bold}${this.#prompt.editor.render(width - label.length - 1)}`)
      return
    }
    if (this.#message !== null && Date.now() < this.#message.until) {
      box.setContent(this.#message.error ? `{red-fg}{bold}${esc(this.#message.text)}{/}` : `{cyan-fg}${esc(this.#message.text)}{/}`)
      return
    }
    this.#message = null
    box.setContent('{gray-fg} q quit  ? help  f filter  / search  Enter detail  Tab pane  F follow  p pause  m mark  i intercept  w save  r replay{/}')
  }

  #drawOverlay(): void {
    const o = this.#boxes.overlay
    if (this.#overlay === null) { o.hide(); return }
    o.show()
    o.setFront()
    if (this.#overlay === 'edit' && this.#editor !== null) {
      o.setLabel(` Edit held #${this.#editor.seq}: Ctrl-s release, Esc cancel `)
      o.setContent(this.#editor.editor.render(this.#innerWidth(o), this.#innerHeight(o)).join('\n'))
    }
  }

  // ── messages, timers ─────────────────────────────────────────────────────────────────────

  #say(text: string, error = false): void {
    this.#message = { text, error, until: Date.now() + (error ? 8000 : 5000) }
    this.#requestFrame(true)
  }

  #everySecond(): void {
    const c = this.#model.counters.events
    this.#rate = c - this.#lastCount
    this.#lastCount = c
    this.#fps = this.#framesThisSecond
    this.#framesThisSecond = 0
    this.#requestFrame(false)
  }

  // ── keys ─────────────────────────────────────────────────────────────────────────────────

  #key(ch: string | undefined, key: KeyInfo): void {
    if (this.#closed) return
    // blessed reports a carriage return twice: as 'return' and again as 'enter'
    if (key.name === 'enter' && key.sequence === '\r') return
    try {
      this.#dispatch(ch, key)
    } catch (err) {
      this.#say(`error: ${err instanceof Error ? err.message : String(err)}`, true)
    }
    this.#requestFrame(true)
  }

  #dispatch(ch: string | undefined, key: KeyInfo): void {
    const name = key.name ?? ''
    if (key.ctrl === true && name === 'c' && this.#prompt === null && this.#overlay !== 'edit') { this.#close(); return }
    if (this.#confirm !== null) {
      const c = this.#confirm
      this.#confirm = null
      if (ch === 'y' || ch === 'Y') c.yes()
      return
    }
    if (this.#prompt !== null) {
      const p = this.#prompt
      const r = p.editor.key(ch, key)
      if (r === 'cancel') this.#prompt = null
      else if (r === 'submit') {
        if (p.validate) {
          const err = checkFilter(p.editor.value)
          if (err !== null) return
        }
        this.#prompt = null
        const v = p.editor.value
        if (v.trim() !== '' && this.#history[this.#history.length - 1] !== v) this.#history.push(v)
        p.submit(v)
      }
      return
    }
    if (this.#overlay === 'edit') { this.#editKey(ch, key); return }
    if (this.#overlay === 'help') {
      const o = this.#boxes.overlay
      if (name === 'escape' || ch === 'q' || ch === '?') { this.#overlay = null; return }
      if (ch === 'j' || name === 'down') o.scroll(1)
      else if (ch === 'k' || name === 'up') o.scroll(-1)
      else if (name === 'pagedown' || ch === ' ') o.scroll(this.#innerHeight(o))
      else if (name === 'pageup') o.scroll(-this.#innerHeight(o))
      return
    }
    this.#normalKey(ch, key)
  }

  #normalKey(ch: string | undefined, key: KeyInfo): void {
    const m = this.#model
    const name = key.name ?? ''
    const ctrl = key.ctrl === true
    const page = Math.max(1, this.#innerHeight(this.#focus === 'list' || this.#zoom ? (this.#zoom ? this.#boxes.detail : this.#boxes.list) : this.#boxes[this.#focus]) - 1)
    if (ctrl && name === 'd') return this.#move(page)
    if (ctrl && name === 'u') return this.#move(-page)
    if (ctrl && name === 'f') return this.#move(page)
    if (ctrl && name === 'b') return this.#move(-page)
    if (ctrl && name === 'l') { this.#screen.realloc(); return }
    if (ctrl) return
    switch (ch) {
      case 'q':
        if (this.#zoom) { this.#setZoom(false); return }
        if (m.ended || m.counters.events === 0) this.#close()
        else this.#confirm = { text: 'Quit msnscope?', yes: () => this.#close() }
        return
      case 'Q': this.#close(); return
      case '?':
        this.#overlay = 'help'
        this.#boxes.overlay.setLabel(' Help: q or Esc to close, j/k to scroll ')
        this.#boxes.overlay.setContent(helpLines().join('\n'))
        this.#boxes.overlay.scrollTo(0)
        return
      case 'j': return this.#move(1)
      case 'k': return this.#move(-1)
      case ' ': return this.#move(page)
      case 'g': return this.#home()
      case 'G': return this.#end()
      case 'h': this.#focus = 'tree'; return
      case 'l': this.#focus = 'list'; return
      case 'F':
        m.setFollow(!m.follow)
        this.#say(m.follow ? 'following new events' : 'not following')
        return
      case 'p':
        m.setPaused(!m.paused)
        this.#say(m.paused ? 'paused: the list stays still, events are still recorded (p to resume)' : 'resumed')
        return
      case 'f':
        this.#ask('filter', m.view.filter?.source ?? '', true, (v) => this.#applyFilter(v))
        return
      case '/':
        this.#ask('search', this.#search?.source ?? '', true, (v) => {
          this.#search = parseFilter(v)
          if (this.#search !== null) this.#findNext(1)
        })
        return
      case 'n': this.#findNext(1); return
      case 'N': this.#findNext(-1); return
      case 'm': {
        const ev = this.#selectedEvent()
        if (ev !== undefined) this.#say(m.toggleMark(ev.seq) ? `marked #${ev.seq}` : `unmarked #${ev.seq}`)
        return
      }
      case 'M':
        if (m.view.filter?.source === '~marked') { this.#applyFilter(this.#previousFilter?.source ?? '') }
        else { this.#previousFilter = m.view.filter; this.#applyFilter('~marked') }
        return
      case 'i':
        if (this.#controls.intercept === undefined) { this.#say(`intercept: ${NOT_AVAILABLE}`, true); return }
        this.#ask('intercept', m.intercept?.source ?? '', true, (v) => {
          const f = parseFilter(v)
          m.intercept = f
          this.#controls.intercept?.(f)
          this.#say(f === null ? 'intercept off' : `intercepting ${f.source}: matching commands are held (a releases, e edits)`)
        })
        return
      case 'a': this.#release(false); return
      case 'A': this.#release(true); return
      case 'e': this.#startEdit(); return
      case 'w': this.#askSave(); return
      case 'r': this.#replay(false); return
      case 'R': this.#replay(true); return
      case 'L': this.#reloadRules(); return
      default:
    }
    switch (name) {
      case 'down': return this.#move(1)
      case 'up': return this.#move(-1)
      case 'pagedown': return this.#move(page)
      case 'pageup': return this.#move(-page)
      case 'home': return this.#home()
      case 'end': return this.#end()
      case 'tab': {
        const order: Pane[] = this.#zoom ? ['detail'] : PANES
        const i = order.indexOf(this.#focus)
        this.#focus = order[(i + (key.shift === true ? order.length - 1 : 1)) % order.length]!
        return
      }
      case 'enter': case 'return':
        if (this.#focus === 'tree') { this.#enterTree(); return }
        if (this.#focus === 'list' || this.#focus === 'detail') this.#setZoom(!this.#zoom)
        return
      case 'escape':
        if (this.#zoom) this.#setZoom(false)
        this.#message = null
        return
      default:
    }
  }

  #setZoom(on: boolean): void {
    this.#zoom = on
    this.#focus = on ? 'detail' : 'list'
    this.#layout()
    this.#detailKey = ''
    this.#chatKey = ''
  }

  #move(delta: number): void {
    const m = this.#model
    switch (this.#zoom ? 'detail' : this.#focus) {
      case 'list': m.move(delta); return
      case 'detail': this.#boxes.detail.scroll(delta); return
      case 'chat': {
        const box = this.#boxes.chat
        if (this.#chatScroll === null) {
          // lay out the whole transcript, at its end, before moving back in it
          this.#chatScroll = Number.MAX_SAFE_INTEGER
          this.#chatKey = ''
          this.#drawChat()
        }
        const max = Math.max(0, box.getScrollHeight() - this.#innerHeight(box))
        const next = Math.max(0, Math.min(max, Math.min(this.#chatScroll, max) + delta))
        this.#chatScroll = next >= max && delta > 0 ? null : next
        return
      }
      case 'tree': this.#treeSel = Math.max(0, this.#treeSel + delta); return
    }
  }

  #home(): void {
    if (this.#zoom || this.#focus === 'detail') { this.#boxes.detail.scrollTo(0); return }
    if (this.#focus === 'tree') { this.#treeSel = 0; return }
    if (this.#focus === 'chat') { this.#chatScroll = 0; return }
    this.#model.follow = false
    this.#model.selectPos(0)
  }

  #end(): void {
    if (this.#zoom || this.#focus === 'detail') { this.#boxes.detail.setScrollPerc(100); return }
    if (this.#focus === 'tree') { this.#treeSel = this.#model.conns.rows().length - 1; return }
    if (this.#focus === 'chat') { this.#chatScroll = null; return }
    this.#model.setFollow(true)
  }

  #enterTree(): void {
    const row = this.#model.conns.rows()[this.#treeSel]
    if (row === undefined) return
    if (row.conn === null) {
      this.#applyFilter(`~account ${quote(row.account)}`)
      return
    }
    this.#applyFilter(`~conn ${row.conn}`)
    this.#focus = 'list'
  }

  #selectedEvent(): ScopeEvent | undefined {
    const idx = this.#model.selected
    return idx < 0 ? undefined : this.#model.store.get(idx)
  }

  #ask(label: string, initial: string, validate: boolean, submit: (v: string) => void): void {
    this.#prompt = { label, editor: new LineEditor(initial, this.#history), validate, submit }
  }

  #applyFilter(text: string): void {
    const f = parseFilter(text)
    this.#model.setFilter(f)
    this.#listTop = 0
    this.#detailKey = ''
    this.#say(f === null ? 'showing every event' : `filter: ${f.source}`)
    if (this.#model.view.scanning) this.#scanMore()
  }

  /** The next list position (after the selection, wrapping) whose event matches the search. */
  #findNext(dir: 1 | -1): void {
    const m = this.#model
    const f = this.#search
    if (f === null) { this.#say('no search yet: / to search'); return }
    const n = m.listLength
    if (n === 0) return
    const start = m.selPos
    const limit = Math.min(n, 1_000_000)
    for (let step = 1; step <= limit; step++) {
      const pos = ((start + dir * step) % n + n) % n
      const ev = m.store.get(m.view.at(pos))
      if (ev !== undefined && f.match(ev, m.filterContext)) {
        m.follow = false
        m.selectPos(pos)
        const wrapped = dir === 1 ? pos <= start : pos >= start
        this.#say(`${f.source}: #${ev.seq}${wrapped ? ' (search wrapped)' : ''}`)
        return
      }
    }
    this.#say(`${f.source}: no match${limit < n ? ` in ${fmt(limit)} events` : ''}`, true)
  }

  // ── intercept, edit, replay, rules, save ─────────────────────────────────────────────────

  #release(all: boolean): void {
    const m = this.#model
    const release = this.#controls.release
    if (release === undefined) { this.#say(`release: ${NOT_AVAILABLE}`, true); return }
    if (all) {
      const seqs = [...m.held.keys()]
      for (const s of seqs) { m.released(s); release.call(this.#controls, s) }
      this.#say(seqs.length === 0 ? 'nothing is held' : `released ${fmt(seqs.length)} held commands`)
      return
    }
    const ev = this.#selectedEvent()
    if (ev === undefined || !m.held.has(ev.seq)) { this.#say('the selected event is not held', true); return }
    m.released(ev.seq)
    release.call(this.#controls, ev.seq)
    this.#say(`released #${ev.seq}`)
  }

  #startEdit(): void {
    const m = this.#model
    if (this.#controls.release === undefined) { this.#say(`edit: ${NOT_AVAILABLE}`, true); return }
    const ev = this.#selectedEvent()
    if (ev === undefined || ev.kind !== 'command' || !m.held.has(ev.seq)) { this.#say('only a held command can be edited (i to intercept)', true); return }
    const text = ev.command.raw.toString('utf8')
    if (!Buffer.from(text, 'utf8').equals(ev.command.raw)) { this.#say('this command has binary bytes and cannot be edited as text; a releases it unchanged', true); return }
    this.#editor = { editor: new TextEditor(text.replace(/\r\n/g, '\n')), seq: ev.seq, original: ev }
    this.#overlay = 'edit'
  }

  #editKey(ch: string | undefined, key: KeyInfo): void {
    const e = this.#editor
    if (e === null) { this.#overlay = null; return }
    const r = e.editor.key(ch, key)
    if (r === 'cancel') { this.#editor = null; this.#overlay = null; this.#say('edit cancelled; the command is still held'); return }
    if (r !== 'submit') return
    const bytes = editedBytes(e.editor.text, e.original)
    this.#editor = null
    this.#overlay = null
    this.#model.released(e.seq)
    this.#controls.release?.(e.seq, bytes)
    this.#say(`released #${e.seq} as edited (${bytes.length} bytes)`)
  }

  #replay(session: boolean): void {
    const replay = this.#controls.replay
    if (replay === undefined) { this.#say(`replay: ${NOT_AVAILABLE}`, true); return }
    const ev = this.#selectedEvent()
    if (ev === undefined) return
    let request: ReplayRequest
    if (!session) {
      if (ev.kind !== 'command') { this.#say('select a command to replay (R replays its session)', true); return }
      request = { kind: 'command', event: ev }
    } else {
      const node = this.#model.conns.get(ev.conn)
      const events: CommandScopeEvent[] = []
      this.#model.store.forEach(node?.firstIndex ?? 0, this.#model.store.size, (e) => { if (e.conn === ev.conn && e.kind === 'command') events.push(e) })
      request = { kind: 'session', conn: ev.conn, events }
    }
    this.#settle(() => replay.call(this.#controls, request), session ? `replaying session ${ev.conn}` : `replaying #${ev.seq}`)
  }

  #reloadRules(): void {
    const reload = this.#controls.reloadRules
    if (reload === undefined) { this.#say(`reload rules: ${NOT_AVAILABLE}`, true); return }
    this.#settle(() => reload.call(this.#controls), 'rules reloaded')
  }

  #settle(fn: () => void | string | Promise<void | string>, done: string): void {
    try {
      const r = fn()
      if (r instanceof Promise) {
        this.#say(`${done}…`)
        r.then((msg) => this.#say(typeof msg === 'string' ? msg : done), (err: unknown) => this.#say(`${done} failed: ${err instanceof Error ? err.message : String(err)}`, true))
      } else this.#say(typeof r === 'string' ? r : done)
    } catch (err) {
      this.#say(`${done} failed: ${err instanceof Error ? err.message : String(err)}`, true)
    }
  }

  #askSave(): void {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
    this.#ask('save shown events to', `msnscope-${stamp}.jsonl`, false, (path) => {
      if (path.trim() === '') return
      void this.#save(path.trim())
    })
  }

  async #save(path: string): Promise<void> {
    const m = this.#model
    const view = m.view
    const total = m.listLength
    const store = m.store
    async function* events(): AsyncGenerator<ScopeEvent> {
      for (let pos = 0; pos < total; pos++) {
        const ev = store.get(view.at(pos))
        if (ev !== undefined) yield ev
        if (pos % 2000 === 1999) await new Promise((r) => setImmediate(r))
      }
    }
    this.#say(`saving ${fmt(total)} events to ${path}…`)
    try {
      let count: number
      if (this.#controls.saveEvents !== undefined) count = await this.#controls.saveEvents(path, events())
      else {
        count = 0
        const out = createWriteStream(path, { flags: 'wx' })
        const failed = new Promise<never>((_, reject) => out.once('error', reject))
        for await (const ev of events()) {
          if (!out.write(`${toJsonLine(ev, { raw: true })}\n`)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed])
          count++
        }
        await Promise.race([new Promise<void>((r) => out.end(() => r())), failed])
      }
      this.#say(`saved ${fmt(count)} events to ${path}`)
    } catch (err) {
      this.#say(`save failed: ${err instanceof Error ? err.message : String(err)}`, true)
    }
  }

  // ── closing ──────────────────────────────────────────────────────────────────────────────

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#tick)
    clearInterval(this.#memTick)
    if (this.#frameTimer !== null) clearTimeout(this.#frameTimer)
    if (this.#immediate !== null) clearImmediate(this.#immediate)
    try { this.#screen.destroy() } catch { /* terminal already gone */ }
    if (this.#ttyIn !== null) this.#ttyIn.destroy()
    this.#model.close()
    this.#resolveClosed()
  }
}

/** Lines, arrows and text are written as UTF-8 unless the locale names another charset. */
function nonUtf8Locale(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || ''
  return /\./.test(locale) && !/utf-?8/i.test(locale)
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, Math.max(0, max - 1))}…` : s
}

function displayLen(s: string): number {
  let n = 0
  for (const ch of s) { const cp = ch.codePointAt(0) ?? 0; n += cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0x1f300 && cp <= 0x1faff)) ? 2 : 1 }
  return n
}

const sanitizeChat = (text: string): string => text.replace(/\r?\n|\r/g, ' ⏎ ').replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '·')

const quote = (s: string): string => (/[\s()&|!"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s)

/**
 * The bytes of an edited command: the first line is the command, the rest its payload (line
 * breaks as CRLF when the original payload used them). The payload length token is recomputed.
 */
export function editedBytes(text: string, original: CommandScopeEvent): Buffer {
  const nl = text.indexOf('\n')
  const line = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '')
  const c = original.command
  if (c.payloadLength === null) return Buffer.from(`${line}\r\n`, 'utf8')
  let payloadText = nl < 0 ? '' : text.slice(nl + 1)
  if (c.payloadRaw !== null && c.payloadRaw.includes('\r\n')) payloadText = payloadText.replace(/\r?\n/g, '\r\n')
  const payload = Buffer.from(payloadText, 'utf8')
  const tokens = line.split(' ')
  if (tokens.length > 1 && /^\d+$/.test(tokens[tokens.length - 1]!)) tokens[tokens.length - 1] = String(payload.length)
  else tokens.push(String(payload.length))
  return Buffer.concat([Buffer.from(`${tokens.join(' ')}\r\n`, 'utf8'), payload])
}
