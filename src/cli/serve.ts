/**
 * `msnscope serve FILE --listen HOST:PORT`: server replay. A fake dispatch, notification and
 * switchboard server answers live clients with the server side of a recording.
 */
import { parseArgs } from 'node:util'
import { MsnscopeError } from '../errors.js'
import { loadRecording } from '../replay/load.js'
import { commandLine, planReplay, type ReplayPlan } from '../replay/plan.js'
import { startReplayServer, type UnmatchedPolicy } from '../replay/server.js'
import { endpoint } from '../transport/hub.js'
import { usageError, writeOut, type Subcommand } from './io.js'
import { startLiveOutput } from './live-output.js'
import { duration, filterOption, listenAddress, megabytes, positiveInt } from './options.js'
import { parseSpeed } from './replay.js'

export const SERVE_HELP = `Usage: msnscope serve FILE [options]

Server replay: stands the recording in FILE (pcap, pcapng, or JSON lines saved with --save) up
as a fake MSN server. Incoming commands are matched to the recorded ones by verb and order and
answered with the recorded replies (TrIDs adjusted); XFR and RNG point at this server, so the
client's notification and switchboard connections come here too.

Options:
  --listen HOST:PORT     where clients connect (default 127.0.0.1:1863)
  --advertise HOST       the address written into XFR and RNG (default: the listen address)
  --only CONN            serve one recorded connection (c3) and the connections it referred
  --unmatched REPLY      for a command the recording cannot answer: error (500), error:CODE,
                         close or ignore (default error:500); each one is also an event
  --speed MODE           fast (default), recorded (the recording's pacing), or a number:
                         that many times faster than recorded
  --lookahead N          recorded commands a client may skip to find a match (default 16)
  --idle-timeout TIME    close connections silent for this long (default 10m)
  --json                 JSON lines on stdout instead of the dashboard
  --raw                  with --json, include the exact bytes (base64)
  --no-tui               one readable line per event instead of the dashboard
  --filter EXPR          show only the events EXPR matches, in the filter language of the
                         dashboard ('~verb MSG & ~from client'; docs/tui.md); saved files keep all
  --save FILE            also save the live events: FILE.jsonl or FILE.pcap; repeatable
  --no-redact            keep secrets in saved files
  --dry-run              print the recorded connections and commands, then exit
  --memory-cap SIZE      dashboard memory cap (default 300MB)
  -h, --help             this help
`

export function parseUnmatched(value: string | undefined): UnmatchedPolicy {
  if (value === undefined || value === 'error') return { kind: 'error', code: 500 }
  if (value === 'close') return { kind: 'close' }
  if (value === 'ignore') return { kind: 'ignore' }
  const m = /^error:(\d{3})$/.exec(value) ?? /^(\d{3})$/.exec(value)
  if (m !== null) return { kind: 'error', code: Number(m[1]) }
  throw usageError(`--unmatched: expected error, error:CODE (three digits), close or ignore, got "${value}"`)
}

export const run: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      listen: { type: 'string' }, advertise: { type: 'string' }, only: { type: 'string' }, unmatched: { type: 'string' },
      speed: { type: 'string' }, lookahead: { type: 'string' }, 'idle-timeout': { type: 'string' },
      json: { type: 'boolean' }, raw: { type: 'boolean' }, 'no-tui': { type: 'boolean' }, filter: { type: 'string' }, save: { type: 'string', multiple: true },
      'no-redact': { type: 'boolean' }, 'dry-run': { type: 'boolean' }, 'memory-cap': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) { io.stdout.write(SERVE_HELP); return 0 }
  const file = positionals[0]
  if (file === undefined || positionals.length > 1) throw usageError('expected one recording: msnscope serve FILE --listen HOST:PORT')
  const listen = listenAddress('--listen', values.listen ?? '127.0.0.1:1863', 1863)
  const unmatched = parseUnmatched(values.unmatched)
  const speed = parseSpeed(values.speed)
  const lookahead = positiveInt('--lookahead', values.lookahead, 16)
  const idleTimeoutMs = duration('--idle-timeout', values['idle-timeout'], 10 * 60_000)

  const recording = await loadRecording(file === '-' ? io.stdin : file, { signal: io.stopSignal })
  for (const w of recording.source.warnings) io.stderr.write(`msnscope serve: ${file}: ${w}\n`)
  const plan = planReplay(recording.events, values.only !== undefined ? { only: values.only } : {})
  if (plan.connections.length === 0) {
    const why = plan.skipped.map((s) => `${s.conn}: ${s.reason}`).join('; ')
    throw new MsnscopeError('EREPLAY', `${file}: nothing to serve${why !== '' ? ` (${why})` : ''}`)
  }
  if (values['dry-run'] === true) {
    for (const line of servePlanLines(plan, values.json === true)) await writeOut(io.stdout, line + '\n')
    return 0
  }

  const out = await startLiveOutput(io, {
    json: values.json === true, raw: values.raw === true, noTui: values['no-tui'] === true,
    save: values.save ?? [], redact: values['no-redact'] !== true, title: `msnscope serve ${file} on ${listen.host}:${listen.port}`,
    memoryCap: megabytes('--memory-cap', values['memory-cap'], 300), filter: filterOption(values.filter),
  })
  const server = await startReplayServer(plan, {
    listen, unmatched, speed, lookahead, idleTimeoutMs, sink: out.sink,
    ...(values.advertise !== undefined ? { advertise: values.advertise } : {}),
  }).catch(async (err: unknown) => { await out.close(); throw err })
  try {
    const addr = server.address
    if (out.mode !== 'tui') {
      io.stderr.write(`msnscope serve: ${plan.connections.length} recorded connection${plan.connections.length === 1 ? '' : 's'} from ${file}, listening on ${endpoint(addr.host, addr.port)} (referrals to ${server.advertised})\n`)
    }
    await Promise.race([out.closed, new Promise<void>((resolve) => {
      if (io.stopSignal.aborted) resolve()
      io.stopSignal.addEventListener('abort', () => resolve(), { once: true })
    })])
  } finally {
    await server.close()
    await out.close()
  }
  return 0
}

/** What `serve --dry-run` prints: each recorded connection, its client commands and the replies served for them. */
function servePlanLines(plan: ReplayPlan, json: boolean): string[] {
  const out: string[] = []
  for (const c of plan.connections) {
    const served = c.expects.filter((e) => !e.optional)
    const pairedBy = c.cookie !== undefined ? 'its cookie' : 'its first commands and account'
    if (json) out.push(JSON.stringify({ kind: 'serve-connection', conn: c.conn, role: c.role, account: c.account, dialect: c.dialect === null ? null : `MSNP${c.dialect}`, commands: c.sends.length, replies: served.length, pairedBy }))
    else out.push(`${c.conn} ${c.role}${c.account !== null ? ` ${c.account}` : ''}${c.dialect !== null ? ` MSNP${c.dialect}` : ''}: ${c.sends.length} client commands, ${served.length} recorded replies; paired by ${pairedBy}`)
    const group = (after: number): string[] => served.filter((e) => e.after === after).map((e) => commandLine(e.command))
    for (const first of group(-1)) out.push(json ? JSON.stringify({ kind: 'serve-reply', conn: c.conn, line: first }) : `        < ${first}`)
    for (const s of c.sends) {
      const replies = group(s.index)
      if (json) out.push(JSON.stringify({ kind: 'serve-command', conn: c.conn, line: commandLine(s.command), replies }))
      else out.push([`    > ${commandLine(s.command)}`, ...replies.map((r) => `        < ${r}`)].join('\n'))
    }
  }
  for (const s of plan.skipped) out.push(json ? JSON.stringify({ kind: 'plan-skipped', ...s }) : `${s.conn}: not served: ${s.reason}`)
  return out
}
