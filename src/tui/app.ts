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
import { openSync } from 'node:fs'
import { ReadStream } from 'node:tty'
import blessed from 'blessed'
import type { CommandScopeEvent } from '../events.js'
import { checkFilter, parseFilter, type EventFilter } from '../filter.js'
import { Actions, NOT_AVAILABLE, type DashboardControls } from './actions.js'
import { DEFAULT_MEMORY_CAP, type Dashboard, type DashboardOptions } from './api.js'
import { LineEditor, TextEditor, type KeyInfo } from './editors.js'
import { filterCheckLine, statusLine, titleLine } from './bars.js'
import { helpLines } from './help.js'
import { initialBudget, MemoryGovernor } from './memory.js'
import { DashboardModel } from './model.js'
import { Panes } from './panes.js'
import { esc } from './tags.js'

export { editedBytes, NOT_AVAILABLE, type DashboardControls, type ReplayRequest } from './actions.js'

export { DEFAULT_MEMORY_CAP, parseMemoryCap, type Dashboard, type DashboardIo, type DashboardOptions, type DashboardStats } from './api.js'

export function openDashboard(options: DashboardOptions): Dashboard {
  return new DashboardApp(options).handle
}

/** Lines, arrows and text are written as UTF-8 unless the locale names another charset. */
function nonUtf8Locale(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || ''
  return /\./.test(locale) && !/utf-?8/i.test(locale)
}

interface Prompt {
  label: string
  editor: LineEditor
  /** filter prompts explain errors while typing */
  validate: boolean
  submit(value: string): void
}

class DashboardApp {
  readonly handle: Dashboard
  readonly #model: DashboardModel
  readonly #panes: Panes
  readonly #actions: Actions
  readonly #controls: DashboardControls
  readonly #title: string
  readonly #frameMs: number
  readonly #screen: blessed.Widgets.Screen
  readonly #ttyIn: ReadStream | null
  readonly #memory: MemoryGovernor

  #prompt: Prompt | null = null
  #confirm: { text: string; yes: () => void } | null = null
  #overlay: 'help' | 'edit' | null = null
  #editor: { editor: TextEditor; original: CommandScopeEvent } | null = null
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
  #lastDrawMs = 0
  #framesThisSecond = 0
  #fps = 0
  #rate = 0
  #lastCount = 0
  #scanning = false
  readonly #timers: NodeJS.Timeout[] = []
  #spillReported = false

  constructor(options: DashboardOptions) {
    this.#controls = options.controls ?? {}
    this.#title = options.title
    const given = options.memoryCap ?? DEFAULT_MEMORY_CAP
    // the CLI's --memory-cap parses to megabytes; bytes are accepted too
    const cap = given < 1024 * 1024 ? given * 1024 * 1024 : given
    this.#frameMs = 1000 / (options.fps ?? 10)
    this.#model = new DashboardModel({ memoryBudget: initialBudget(cap), ...(options.spillDir !== undefined ? { spillDir: options.spillDir } : {}) })
    this.#memory = new MemoryGovernor(this.#model.store, cap)
    if (options.filter != null) this.#model.setFilter(options.filter)

    const io = options.io
    let input: NodeJS.ReadableStream = io.stdin
    this.#ttyIn = null
    if (io.stdin.isTTY !== true) {
      // events may come from stdin (a pipe); keys then come from the terminal itself
      try { this.#ttyIn = new ReadStream(openSync('/dev/tty', 'r')); input = this.#ttyIn } catch { /* no terminal: no keys */ }
    }
    const utf8 = !nonUtf8Locale(io.env)
    this.#screen = blessed.screen({
      input: input as never, output: io.stdout as never, smartCSR: true, fullUnicode: true, warnings: false,
      autoPadding: false, dockBorders: true, title: `msnscope ${options.title}`, terminal: io.env.TERM ?? 'xterm',
      sendFocus: false, useBCE: true, forceUnicode: utf8,
    } as blessed.Widgets.IScreenOptions)
    // on a UTF-8 terminal draw lines as UTF-8 rather than switching to the DEC line-drawing set
    // for every border character (slower, and garbled when a multiplexer mixes the two)
    const tput = (this.#screen as unknown as { tput?: { brokenACS?: boolean } }).tput
    if (tput !== undefined && utf8) tput.brokenACS = true
    this.#panes = new Panes(this.#screen, this.#model)
    this.#actions = new Actions(this.#model, this.#controls, (text, error) => this.#say(text, error === true), () => this.#panes.selectedEvent())
    this.#screen.on('resize', () => { this.#panes.layout(); this.#panes.detailKey = ''; this.#panes.chatKey = ''; this.#draw() })
    this.#screen.on('keypress', (ch: string | undefined, key: KeyInfo) => this.#key(ch, key))

    const closed = new Promise<void>((resolve) => { this.#resolveClosed = resolve })
    this.#timers.push(setInterval(() => this.#everySecond(), 1000), setInterval(() => this.#memory.check(), 250))
    for (const t of this.#timers) t.unref?.()
    if (io.stopSignal !== undefined) {
      if (io.stopSignal.aborted) queueMicrotask(() => this.#close())
      else io.stopSignal.addEventListener('abort', () => this.#close(), { once: true })
    }

    const self = this
    this.handle = {
      push: (event, opts) => {
        if (self.#closed) return
        const held = opts?.held === true
        self.#model.push(event, held)
        if (held) self.#say(`holding #${event.seq} ${event.kind === 'command' ? event.command.verb : event.kind}: a to release, e to edit`)
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

  // ── frames ───────────────────────────────────────────────────────────────────────────────

  #requestFrame(urgent: boolean): void {
    if (this.#closed) return
    if (urgent) {
      if (this.#immediate === null) this.#immediate = setImmediate(() => { this.#immediate = null; this.#draw() })
      return
    }
    if (this.#frameTimer !== null || this.#immediate !== null) return
    // frames that take long are drawn less often, so drawing never takes more than about a fifth
    // of the time and the rest stays for events and keys (a key still draws at once)
    const interval = Math.min(500, Math.max(this.#frameMs, this.#lastDrawMs * 5))
    const wait = Math.max(0, this.#lastFrame + interval - Date.now())
    this.#frameTimer = setTimeout(() => { this.#frameTimer = null; this.#draw() }, wait)
  }

  #draw(): void {
    if (this.#closed) return
    if (this.#frameTimer !== null) { clearTimeout(this.#frameTimer); this.#frameTimer = null }
    const t0 = performance.now()
    this.#lastFrame = Date.now()
    try {
      this.#drawTitle()
      this.#panes.draw()
      this.#drawStatus()
      this.#drawPrompt()
      this.#drawOverlay()
      this.#screen.render()
    } catch (err) {
      // a drawing bug must not take the source (a live proxy) down with it
      this.#message = { text: `display error: ${err instanceof Error ? err.message : String(err)}`, error: true, until: Date.now() + 10_000 }
      try { this.#drawPrompt(); this.#screen.render() } catch { /* nothing more to do */ }
    }
    const ms = performance.now() - t0
    this.#lastDrawMs = ms
    this.#frames++
    this.#framesThisSecond++
    this.#drawMs += ms
    if (ms > this.#drawMsMax) this.#drawMsMax = ms
    if (this.#model.view.scanning) this.#scanMore()
  }

  /** Match a new filter against stored events a slice at a time, between frames and keys. */
  #scanMore(): void {
    if (this.#scanning) return
    this.#scanning = true
    setImmediate(() => {
      this.#scanning = false
      if (this.#closed) return
      const t0 = Date.now()
      while (!this.#model.view.scan(2000) && Date.now() - t0 < 30) { /* up to 30 ms per turn */ }
      this.#requestFrame(!this.#model.view.scanning)
      if (this.#model.view.scanning) this.#scanMore()
    })
  }

  #drawTitle(): void {
    this.#panes.boxes.title.setContent(titleLine(this.#model, this.#title))
  }

  #drawStatus(): void {
    const box = this.#panes.boxes.status
    const p = this.#prompt
    box.setContent(p !== null && p.validate ? filterCheckLine(p.label, p.editor.value, (box.width as number) || 80) : statusLine(this.#model, this.#rate))
  }

  #drawPrompt(): void {
    const box = this.#panes.boxes.prompt
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
    const o = this.#panes.boxes.overlay
    if (this.#overlay === null) { o.hide(); return }
    o.show()
    o.setFront()
    if (this.#overlay === 'edit' && this.#editor !== null) {
      o.setLabel(` Edit held #${this.#editor.original.seq}: Ctrl-s release, Esc cancel `)
      o.setContent(this.#editor.editor.render(this.#panes.innerWidth(o), this.#panes.innerHeight(o)).join('\n'))
    }
  }

  #say(text: string, error = false): void {
    this.#message = { text, error, until: Date.now() + (error ? 8000 : 5000) }
    this.#requestFrame(true)
  }

  #everySecond(): void {
    const spill = this.#model.store.spillError
    if (spill !== null && !this.#spillReported) {
      this.#spillReported = true
      this.#say(`the spill file failed (${spill}): events older than memory holds are no longer kept`, true)
    }
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
    if (this.#prompt !== null) { this.#promptKey(this.#prompt, ch, key); return }
    if (this.#overlay === 'edit') { this.#editKey(ch, key); return }
    if (this.#overlay === 'help') {
      const o = this.#panes.boxes.overlay
      if (name === 'escape' || ch === 'q' || ch === '?') this.#overlay = null
      else if (ch === 'j' || name === 'down') o.scroll(1)
      else if (ch === 'k' || name === 'up') o.scroll(-1)
      else if (name === 'pagedown' || ch === ' ') o.scroll(this.#panes.innerHeight(o))
      else if (name === 'pageup') o.scroll(-this.#panes.innerHeight(o))
      return
    }
    this.#normalKey(ch, key)
  }

  #promptKey(p: Prompt, ch: string | undefined, key: KeyInfo): void {
    const r = p.editor.key(ch, key)
    if (r === 'cancel') { this.#prompt = null; return }
    if (r !== 'submit') return
    if (p.validate && checkFilter(p.editor.value) !== null) return
    this.#prompt = null
    const v = p.editor.value
    if (v.trim() !== '' && this.#history[this.#history.length - 1] !== v) this.#history.push(v)
    p.submit(v)
  }

  #editKey(ch: string | undefined, key: KeyInfo): void {
    const e = this.#editor
    if (e === null) { this.#overlay = null; return }
    const r = e.editor.key(ch, key)
    if (r === 'cancel') { this.#editor = null; this.#overlay = null; this.#say('edit cancelled; the command is still held'); return }
    if (r !== 'submit') return
    this.#editor = null
    this.#overlay = null
    this.#actions.releaseEdited(e.original, e.editor.text)
  }

  #normalKey(ch: string | undefined, key: KeyInfo): void {
    const m = this.#model
    const panes = this.#panes
    const name = key.name ?? ''
    if (key.ctrl === true) {
      const page = panes.pageSize()
      if (name === 'd' || name === 'f') panes.move(page)
      else if (name === 'u' || name === 'b') panes.move(-page)
      else if (name === 'l') this.#screen.realloc()
      return
    }
    switch (ch) {
      case 'q':
        if (panes.zoom) { panes.setZoom(false); return }
        if (m.ended || m.counters.events === 0) this.#close()
        else this.#confirm = { text: 'Quit msnscope?', yes: () => this.#close() }
        return
      case 'Q': this.#close(); return
      case '?': this.#showHelp(); return
      case 'j': panes.move(1); return
      case 'k': panes.move(-1); return
      case ' ': panes.move(panes.pageSize()); return
      case 'g': panes.home(); return
      case 'G': panes.end(); return
      case 'h': panes.focus = 'tree'; return
      case 'l': panes.focus = 'list'; return
      case 'F':
        m.setFollow(!m.follow)
        this.#say(m.follow ? 'following new events' : 'not following')
        return
      case 'p':
        m.setPaused(!m.paused)
        this.#say(m.paused ? 'paused: the list stays still, events are still recorded (p to resume)' : 'resumed')
        return
      case 'f': this.#ask('filter', m.view.filter?.source ?? '', true, (v) => this.#applyFilter(v)); return
      case '/':
        this.#ask('search', this.#search?.source ?? '', true, (v) => {
          this.#search = parseFilter(v)
          if (this.#search !== null) this.#findNext(1)
        })
        return
      case 'n': this.#findNext(1); return
      case 'N': this.#findNext(-1); return
      case 'm': {
        const ev = panes.selectedEvent()
        if (ev !== undefined) this.#say(m.toggleMark(ev.seq) ? `marked #${ev.seq}` : `unmarked #${ev.seq}`)
        return
      }
      case 'M':
        if (m.view.filter?.source === '~marked') this.#applyFilter(this.#previousFilter?.source ?? '')
        else { this.#previousFilter = m.view.filter; this.#applyFilter('~marked') }
        return
      case 'i': this.#askIntercept(); return
      case 'a': this.#actions.release(false); return
      case 'A': this.#actions.release(true); return
      case 'e': {
        const ev = this.#actions.editable()
        if (ev !== null) { this.#editor = { editor: new TextEditor(ev.command.raw.toString('utf8').replace(/\r\n/g, '\n')), original: ev }; this.#overlay = 'edit' }
        return
      }
      case 'w': {
        const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
        this.#ask('save shown events to', `msnscope-${stamp}.jsonl`, false, (path) => { if (path.trim() !== '') void this.#actions.save(path.trim()) })
        return
      }
      case 'r': this.#actions.replay(false); return
      case 'R': this.#actions.replay(true); return
      case 'L': this.#actions.reloadRules(); return
      default:
    }
    switch (name) {
      case 'down': panes.move(1); return
      case 'up': panes.move(-1); return
      case 'pagedown': panes.move(panes.pageSize()); return
      case 'pageup': panes.move(-panes.pageSize()); return
      case 'home': panes.home(); return
      case 'end': panes.end(); return
      case 'tab': panes.cycleFocus(key.shift === true); return
      case 'enter': case 'return':
        if (panes.focus === 'tree') {
          const f = panes.treeFilter()
          if (f !== null) { this.#applyFilter(f); panes.focus = 'list' }
        } else if (panes.focus === 'list' || panes.focus === 'detail') panes.setZoom(!panes.zoom)
        return
      case 'escape':
        if (panes.zoom) panes.setZoom(false)
        this.#message = null
        return
      default:
    }
  }

  #showHelp(): void {
    const o = this.#panes.boxes.overlay
    this.#overlay = 'help'
    o.setLabel(' Help: q or Esc to close, j/k to scroll ')
    o.setContent(helpLines().join('\n'))
    o.scrollTo(0)
  }

  #ask(label: string, initial: string, validate: boolean, submit: (v: string) => void): void {
    this.#prompt = { label, editor: new LineEditor(initial, this.#history), validate, submit }
  }

  #askIntercept(): void {
    const m = this.#model
    if (this.#controls.intercept === undefined) { this.#say(`intercept: ${NOT_AVAILABLE}`, true); return }
    this.#ask('intercept', m.intercept?.source ?? '', true, (v) => {
      const f = parseFilter(v)
      m.intercept = f
      this.#controls.intercept?.(f)
      this.#say(f === null ? 'intercept off' : `intercepting ${f.source}: matching commands are held (a releases, e edits)`)
    })
  }

  #applyFilter(text: string): void {
    const f = parseFilter(text)
    this.#model.setFilter(f)
    this.#panes.detailKey = ''
    this.#say(f === null ? 'showing every event' : `filter: ${f.source}`)
    if (this.#model.view.scanning) this.#scanMore()
  }

  #findNext(dir: 1 | -1): void {
    const f = this.#search
    if (f === null) { this.#say('no search yet: / to search'); return }
    const hit = this.#model.findNext(f, dir)
    if (hit === null) this.#say(`${f.source}: no match`, true)
    else this.#say(`${f.source}: #${hit.seq}${hit.wrapped ? ' (search wrapped)' : ''}`)
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#timers) clearInterval(t)
    if (this.#frameTimer !== null) clearTimeout(this.#frameTimer)
    if (this.#immediate !== null) clearImmediate(this.#immediate)
    try { this.#screen.destroy() } catch { /* terminal already gone */ }
    if (this.#ttyIn !== null) this.#ttyIn.destroy()
    this.#model.close()
    this.#resolveClosed()
  }
}
