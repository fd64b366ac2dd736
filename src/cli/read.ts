/**
 * `msnscope read FILE`: a pcap, pcapng or saved JSONL file (gzip-compressed or not; `-` for
 * standard input) as events: JSON lines with --json, otherwise a readable summary.
 */
import { parseArgs } from 'node:util'
import chalk, { Chalk } from 'chalk'
import type { ScopeEvent } from '../events.js'
import type { EventFilter } from '../filter.js'
import { linkTypeName } from '../pcap/link.js'
import { toJsonLine } from '../sinks/json.js'
import { JsonLineThread } from '../sinks/json-thread.js'
import { LineSlab } from '../sinks/line-slab.js'
import { PLAIN, SummarySink, type Painter } from '../sinks/summary.js'
import { captureEvents, importCapture, type ImportOptions, type ImportResult } from '../transport/pcap-import.js'
import { usageError, wantsColor, type CliIo, type Subcommand } from './io.js'
import { filterOption, megabytes } from './options.js'
import { dryRunInto, READ_RULE_HELP, RULE_OPTIONS, rulesFromFlags, type RuleDryRunSink } from './rule-flags.js'

export const READ_HELP = `Usage: msnscope read FILE [options]

Reads a capture and shows its MSN Messenger traffic: every command of every connection, on port
1863 or any other (MSNP is recognised by its content), over TCP or through the HTTP gateway.
FILE is a pcap (microsecond or nanosecond) or pcapng file, optionally gzip-compressed, a JSONL
file saved by msnscope, or - for standard input (tcpdump -w - | msnscope read -).

Options:
  --json          one JSON event per line (docs/events.md) instead of the summary
  --raw           with --json, add the exact bytes of each event (base64)
  --port N        decode TCP port N as MSNP whatever it holds (repeatable)
  --filter EXPR   only the events EXPR matches, in the filter language of the dashboard
                  ('~verb MSG & ~from client', '~account alice@example.com'; docs/tui.md),
                  in the JSON lines and the summary; the dashboard opens with it as its
                  view filter
  --no-tui        on a terminal, print the summary instead of opening the terminal UI
  --memory-cap SIZE  terminal UI memory cap (default 300MB); older events go to a temp file
  --no-progress   no progress bar on standard error
  -h, --help      this help

${READ_RULE_HELP}`

/** Files smaller than this read too fast for a progress bar to help. */
const PROGRESS_MIN_BYTES = 8 * 1024 * 1024

export const run: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, raw: { type: 'boolean' }, port: { type: 'string', multiple: true }, filter: { type: 'string' },
      'no-tui': { type: 'boolean' }, 'no-progress': { type: 'boolean' }, 'memory-cap': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      ...RULE_OPTIONS,
    },
  })
  if (values.help === true) { io.stdout.write(READ_HELP); return 0 }
  const file = positionals[0]
  if (file === undefined || positionals.length > 1) throw usageError('give exactly one FILE (or - for standard input)')
  const ports = parsePorts(values.port ?? [])
  const filter = filterOption(values.filter)
  const shown = (e: ScopeEvent): boolean => filter === null || filter.match(e)
  if (values.raw === true && values.json !== true) throw usageError('--raw goes with --json')

  const memoryCap = megabytes('--memory-cap', values['memory-cap'], 300)
  const { source, ...input } = captureInput(file, io)
  const options: ImportOptions = { ports, ...input }
  // --rules …: a dry run; every event goes through the rules on its way out (docs/rules.md)
  const rules = await rulesFromFlags(values, { watch: false, statsIntervalMs: 0 })
  // on a terminal (and without --json or --no-tui) the capture opens in the dashboard
  if (io.stdout.isTTY === true && values.json !== true && values['no-tui'] !== true) return readIntoDashboard(source, options, file, memoryCap, filter, io, (next) => dryRunInto(rules, next))
  const progress = values['no-progress'] === true ? null : progressBar(io)
  if (progress !== null) options.onProgress = progress.update
  let result: ImportResult
  try {
    if (values.json === true && rules === null && filter === null) {
      // lines rendered by a thread of their own; commands are decoded there, and only framed here
      const lines = new JsonLineThread(io.stdout, { raw: values.raw === true, limits: {} })
      options.decode = false
      options.drain = () => lines.drain()
      try {
        result = await importCapture(source, (e) => lines.add(e), options)
        await lines.finish()
      } finally {
        await lines.close()
      }
    } else if (values.json === true) {
      const out = new BatchedWriter(io.stdout)
      const raw = values.raw === true
      const dry = dryRunInto(rules, (e) => { if (shown(e)) out.add(toJsonLine(e, { raw })) })
      options.drain = async () => { await dry.drain(); await out.flush() }
      result = await importCapture(source, dry.sink, options)
      await dry.finish()
      await out.flush()
    } else {
      const summary = new SummarySink()
      const dry = dryRunInto(rules, (e: ScopeEvent) => { if (shown(e)) summary.push(e) })
      options.drain = () => dry.drain()
      result = await importCapture(source, dry.sink, options)
      const report = await dry.finish()
      progress?.clear()
      const input = filter === null ? describeInput(result) : { ...describeInput(result), filter: filter.source }
      io.stdout.write(summary.render(input, painter(io), io.stdout.columns ?? 100) + report)
    }
  } finally {
    progress?.clear()
  }
  if (values.json === true) for (const w of result.warnings) io.stderr.write(`msnscope read: warning: ${w}\n`)
  return 0
}

/** The capture in the dashboard, fed batch by batch while it is read; returns when the user quits. */
async function readIntoDashboard(source: string | NodeJS.ReadableStream, options: ImportOptions, file: string, memoryCapMb: number, filter: EventFilter | null, io: CliIo, rules: (next: (e: ScopeEvent) => void) => RuleDryRunSink): Promise<number> {
  const quit = new AbortController()
  options.signal = AbortSignal.any([io.stopSignal, quit.signal])
  const batches = captureEvents(source, options)
  // the first batch before the screen changes, so an unreadable file is reported as usual
  let step = await batches.next()
  const { openDashboard } = await import('../tui/app.js')
  const dash = openDashboard({ io, title: `read ${file === '-' ? 'standard input' : file}`, memoryCap: memoryCapMb * 1024 * 1024, filter })
  void dash.closed.then(() => quit.abort())
  const dry = rules((e) => dash.push(e))
  try {
    let n = 0
    while (step.done !== true && !dash.isClosed) {
      for (const e of step.value) {
        dry.sink(e)
        if (++n % 2000 === 0) await dash.idle()
      }
      await dry.drain()
      step = await batches.next()
    }
    await dry.finish()
    if (step.done === true) for (const w of step.value.warnings) dash.notify(`warning: ${w}`, true)
    dash.end()
  } catch (err) {
    dash.close()
    throw err
  }
  await dash.closed
  return 0
}

/** The source and options common to read and transcript. */
export function captureInput(file: string, io: CliIo): ImportOptions & { source: string | NodeJS.ReadableStream } {
  return file === '-' ? { source: io.stdin, name: 'standard input', signal: io.stopSignal } : { source: file, signal: io.stopSignal }
}

export function parsePorts(values: string[]): number[] {
  return values.map((v) => {
    const p = Number(v)
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw usageError(`--port: expected a TCP port (1-65535), got "${v}"`)
    return p
  })
}

export function describeInput(r: ImportResult): { name: string; format: string; gzip: boolean; records: number; bytesRead: number; linkTypes: string[]; warnings: string[] } {
  return { name: r.name, format: r.format, gzip: r.gzip, records: r.records, bytesRead: r.bytesRead, linkTypes: [...new Set(r.linkTypes.map(linkTypeName))], warnings: r.warnings }
}

function painter(io: CliIo): Painter {
  if (!wantsColor(io, io.stdout)) return PLAIN
  const c = new Chalk({ level: chalk.level > 0 ? chalk.level : 1 })
  const roles: Record<string, (s: string) => string> = { DS: c.yellow, NS: c.cyan, SB: c.green }
  return { bold: c.bold, dim: c.gray, role: (r, s) => (roles[r] ?? c.white)(s), warn: c.yellow }
}

/** JSON lines gathered into large writes, waiting for the stream to drain when it asks to. */
class BatchedWriter {
  static readonly BATCH = 1 << 16
  readonly #lines = new LineSlab()
  /** one wait for 'drain' however many writes were refused meanwhile (no listener per write) */
  #drained: Promise<void> | null = null
  constructor(readonly stream: NodeJS.WritableStream) {}

  /** One line, without its newline. */
  add(line: string): void {
    const full = this.#lines.add(line)
    if (full !== null) void this.#write(full)
    if (this.#lines.pending >= BatchedWriter.BATCH) void this.#write(this.#lines.take()!)
  }

  flush(): Promise<void> | void {
    const rest = this.#lines.take()
    return rest === null ? this.#drained ?? undefined : this.#write(rest)
  }

  #write(text: Buffer): Promise<void> | void {
    if (this.stream.write(text)) return this.#drained ?? undefined
    this.#drained ??= new Promise((resolve) => this.stream.once('drain', () => { this.#drained = null; resolve() }))
    return this.#drained
  }
}

/** A bar on standard error for large files, when it is a terminal. */
function progressBar(io: CliIo): { update: (read: number, total: number | null) => void; clear: () => void } | null {
  if (io.stderr.isTTY !== true) return null
  let last = 0
  let shown = false
  return {
    update(read, total) {
      if (total === null || total < PROGRESS_MIN_BYTES) return
      const now = Date.now()
      if (now - last < 100 && read < total) return
      last = now
      const frac = Math.min(1, read / total)
      const width = 30
      const done = Math.round(frac * width)
      io.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${(read / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`)
      shown = true
    },
    clear() {
      if (shown) io.stderr.write('\r\x1b[K')
      shown = false
    },
  }
}
