/**
 * Where a live source's events go: JSON lines on stdout (`--json`), the dashboard on a terminal,
 * or one readable line per event (`--no-tui`, or stdout not a terminal); plus `--save` files.
 * Output to stdout is written in batches (every 10 ms at most, or every 512 lines), each event
 * formatted as its batch is written; a command the proxy only framed is decoded then too.
 */
import type { EventSink, ScopeEvent } from '../events.js'
import { MsnscopeError } from '../errors.js'
import type { EventFilter } from '../filter.js'
import { ensureDecoded } from '../protocol/decoder.js'
import { LineSlab } from '../sinks/line-slab.js'
import { formatEventLine } from '../sinks/console.js'
import { toJsonLine } from '../sinks/json.js'
import { jsonlFileSink } from '../sinks/jsonl-file.js'
import { PcapWriter } from '../sinks/pcap-writer.js'
import { Redactor } from '../sinks/redact.js'
import { wantsColor, type CliIo } from './io.js'

export interface LiveOutputOptions {
  json: boolean
  raw: boolean
  noTui: boolean
  save: string[]
  redact: boolean
  title: string
  memoryCap?: number
  /** controls the dashboard can call (intercept, replay, reload rules …) */
  controls?: Record<string, unknown>
  /** `--filter`: only matching events go to stdout (the dashboard starts with it as its view filter; saved files keep everything) */
  filter?: EventFilter | null
  /** bytes stdout may have queued before events are left out of it (default 16 MiB) */
  maxBacklog?: number
}

/** What stdout may hold unread (a pipe whose reader stalls) before lines are left out. */
const MAX_STDOUT_BACKLOG = 16 * 1024 * 1024

export interface LiveOutput {
  sink: EventSink
  /** resolves when the user closes the dashboard (q); never for line output */
  closed: Promise<void>
  close(): Promise<void>
  mode: 'json' | 'lines' | 'tui'
}

interface Dashboard { push(ev: ScopeEvent, options?: { held?: boolean }): void; end(): void; closed: Promise<void> }
type OpenDashboard = (o: { io: CliIo; title: string; memoryCap?: number; controls?: Record<string, unknown>; filter?: EventFilter | null }) => Dashboard | Promise<Dashboard>

export async function startLiveOutput(io: CliIo, o: LiveOutputOptions): Promise<LiveOutput> {
  const closers: (() => void)[] = []
  const sinks: EventSink[] = []
  const redactor = o.redact ? new Redactor() : null
  for (const path of o.save) {
    // a file that cannot be written (a full disk) is given up with a word; the traffic goes on
    const failed = (err: Error): void => {
      io.stderr.write(`msnscope: --save ${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}; the file is no longer written\n`)
    }
    try {
      if (path.endsWith('.jsonl') || path.endsWith('.json')) {
        const f = jsonlFileSink(path, redactor, failed)
        sinks.push(f.sink)
        closers.push(f.close)
      } else if (path.endsWith('.pcap')) {
        const w = new PcapWriter(path, redactor, failed)
        sinks.push(w.sink)
        closers.push(() => w.close())
      } else throw new MsnscopeError('EUSAGE', `--save ${path}: the name must end in .jsonl or .pcap`)
    } catch (err) {
      if (err instanceof MsnscopeError) throw err
      throw new MsnscopeError('EINPUT', `--save ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
    }
  }
  let mode: LiveOutput['mode'] = o.json ? 'json' : !o.noTui && io.stdout.isTTY === true && io.stdin.isTTY === true ? 'tui' : 'lines'
  let closed: Promise<void> = new Promise(() => {})
  let dashboard: Dashboard | null = null
  if (mode === 'tui') {
    const open = await loadDashboard()
    if (open === null) mode = 'lines'
    else {
      dashboard = await open({ io, title: o.title, ...(o.memoryCap !== undefined ? { memoryCap: o.memoryCap } : {}), ...(o.controls !== undefined ? { controls: o.controls } : {}), filter: o.filter ?? null })
      closed = dashboard.closed
      const d = dashboard
      // a command the interceptor holds carries the tag `held` (transport/intercept.ts)
      sinks.push((ev) => d.push(ev, ev.kind === 'command' && ev.tags?.includes('held') === true ? { held: true } : undefined))
    }
  }
  if (mode !== 'tui') {
    const color = wantsColor(io, io.stdout)
    const width = io.stdout.isTTY === true ? io.stdout.columns : undefined
    const jsonOptions = { raw: o.raw }
    const lineOptions = { color, ...(width !== undefined ? { width } : {}) }
    const filter = o.filter ?? null
    // events are not changed once emitted, so they are formatted when their batch is written
    let pending: ScopeEvent[] = []
    let scheduled = false
    const text = new LineSlab()
    // A reader of stdout that stalls (a pipe nobody reads) must not make msnscope hold the
    // output without bound, nor hold up traffic: beyond the backlog, batches are left out (not
    // even formatted), and standard error says how many once stdout is read again.
    const maxBacklog = o.maxBacklog ?? MAX_STDOUT_BACKLOG
    const out = io.stdout as NodeJS.WritableStream & { writableLength?: number }
    const left = { events: 0, first: 0, last: 0 }
    const tellLeft = (): void => {
      if (left.events === 0) return
      io.stderr.write(`msnscope: standard output was not read fast enough: ${left.events} events${filter !== null ? ' (before --filter)' : ''} were left out of it (seq ${left.first} to ${left.last}); --save keeps every event\n`)
      left.events = 0
    }
    const flush = (): void => {
      scheduled = false
      if (pending.length === 0) return
      const batch = pending
      pending = []
      if ((out.writableLength ?? 0) > maxBacklog) {
        if (left.events === 0) left.first = batch[0]!.seq
        left.events += batch.length
        left.last = batch[batch.length - 1]!.seq
        return
      }
      tellLeft()
      for (const ev of batch) {
        let line: string
        // an event that cannot be formatted is left out, as when a sink fails (hub.ts)
        try {
          // a command the relay only framed (proxy.ts) is decoded now, after it was forwarded
          if (ev.kind === 'command') ensureDecoded(ev.command)
          if (filter !== null && !filter.match(ev)) continue
          line = mode === 'json' ? toJsonLine(ev, jsonOptions) : formatEventLine(ev, lineOptions)
        } catch { continue }
        const full = text.add(line)
        if (full !== null) io.stdout.write(full)
      }
      const rest = text.take()
      if (rest !== null) io.stdout.write(rest)
    }
    sinks.push((ev) => {
      pending.push(ev)
      // one write per batch: at most 10 ms late, or as soon as 512 lines wait
      if (pending.length >= 512) flush()
      else if (!scheduled) { scheduled = true; setTimeout(flush, 10).unref() }
    })
    closers.push(() => { flush(); tellLeft() })
  }
  const sink: EventSink = (ev) => { for (const s of sinks) s(ev) }
  return {
    sink, closed, mode,
    close: async () => {
      for (const c of closers) c()
      if (dashboard !== null) { dashboard.end(); await dashboard.closed }
    },
  }
}

async function loadDashboard(): Promise<OpenDashboard | null> {
  try {
    const mod = (await import(new URL('../tui/app.js', import.meta.url).href)) as { openDashboard?: OpenDashboard }
    return mod.openDashboard ?? null
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null
    throw err
  }
}
