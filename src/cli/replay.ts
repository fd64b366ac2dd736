/**
 * `msnscope replay FILE --to HOST:PORT`: client replay of a recording against a live server,
 * with a report of every place the live replies differ from the recorded ones. Exits 0 when the
 * session completed, 1 when it could not be completed (or, with --strict, had differences).
 */
import { parseArgs } from 'node:util'
import { MsnscopeError } from '../errors.js'
import type { ScopeEvent } from '../events.js'
import { formatEventLine } from '../sinks/console.js'
import { toJsonLine } from '../sinks/json.js'
import { diffText, replayClient, type ClientReplayOptions, type ReplayReport } from '../replay/client.js'
import { describePlan, formatDryRunLine } from '../replay/dry-run.js'
import { loadRecording } from '../replay/load.js'
import { planReplay, type ReplayPlan, type Secret, type Speed } from '../replay/plan.js'
import { usageError, wantsColor, writeOut, type CliIo, type Subcommand } from './io.js'
import { duration, hostPort } from './options.js'

export const REPLAY_HELP = `Usage: msnscope replay FILE --to HOST:PORT [options]

Client replay: sends the client side of the sessions recorded in FILE (pcap, pcapng, or JSON
lines saved with --save) to a live server, every recorded client at once. Each command waits
for the replies recorded before it; TrIDs are renumbered; XFR and RNG are followed to the
servers the live server names, with its cookies; challenges (CHL) are answered afresh. Every
place where a live reply differs from the recorded one (verb, arguments, payload) is reported.

Options:
  --to HOST:PORT         the server for connections no other one referred (the DS or an NS)
  --only CONN            replay one recorded connection (c3) and the connections it referred
  --speed MODE           fast (default: as soon as the replies are in), recorded (the
                         recording's pacing), or a number: that many times faster than recorded
  --password SECRET      password for MD5 logins (MSNP2-7) and for --login-url; write
                         ACCOUNT=SECRET for one account of the recording (repeatable)
  --ticket TICKET        Passport ticket (t=...&p=...) for TWN and SSO logins; ACCOUNT=TICKET
                         for one account (repeatable)
  --proof-key BASE64     SSO proof key, to compute the MBI response that goes with --ticket
  --login-url URL        log in afresh through this Passport 1.4 (TWN) or RST (SSO) login URL
                         (revival servers serve it over plain http)
  --product-id ID        product id for challenge answers (default: the recording's)
  --product-key KEY      the key of a product id that is not a published one
  --timeout TIME         give up when nothing happens for this long (default 10s)
  --dry-run              print the plan instead: connections, commands with their new TrIDs,
                         what is answered afresh, the credentials used (redacted)
  --json                 JSON lines: the live events and the differences (with --dry-run, the plan)
  --raw                  with --json, add the exact bytes of each event (base64)
  --verbose              every live command, not only the differences
  --strict               exit 1 also when the session completed with differences
  -h, --help             this help

Exit status: 0 completed, 1 not completed (or differences with --strict), 2 bad usage.
`

export function parseSpeed(value: string | undefined): Speed {
  if (value === undefined || value === 'fast' || value === 'max') return 'fast'
  if (value === 'recorded' || value === 'real') return 'recorded'
  const n = Number(value.replace(/x$/, ''))
  if (!Number.isFinite(n) || n <= 0) throw usageError(`--speed: expected fast, recorded or a positive number, got "${value}"`)
  return n
}

/**
 * `--password` values: `SECRET` for every account, `ACCOUNT=SECRET` for one account of the
 * recording (the part before `=` must name one, so a password may itself contain `=`).
 */
export function parseSecrets(flag: string, values: readonly string[] | undefined, accounts: ReadonlySet<string>): Secret | undefined {
  if (values === undefined || values.length === 0) return undefined
  const per: Record<string, string> = {}
  let all: string | undefined
  for (const v of values) {
    const i = v.indexOf('=')
    const account = i > 0 ? v.slice(0, i).toLowerCase() : ''
    if (i > 0 && accounts.has(account)) per[account] = v.slice(i + 1)
    else if (all === undefined) all = v
    else throw usageError(`${flag}: given twice for every account; write ACCOUNT=VALUE to give one per account`)
  }
  if (Object.keys(per).length === 0) return all
  if (all !== undefined) for (const a of accounts) per[a] ??= all
  return per
}

function accountsOf(plan: ReplayPlan): Set<string> {
  const out = new Set<string>()
  for (const c of plan.connections) if (c.account !== null) out.add(c.account.toLowerCase())
  for (const c of plan.connections) for (const s of c.sends) {
    const a = s.command.args
    if (s.command.verb === 'USR' && a[1] === 'I' && a[2] !== undefined) out.add(a[2].toLowerCase())
  }
  return out
}

export const run: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      to: { type: 'string' }, only: { type: 'string' }, speed: { type: 'string' },
      password: { type: 'string', multiple: true }, ticket: { type: 'string', multiple: true }, 'proof-key': { type: 'string' },
      'login-url': { type: 'string' }, 'product-id': { type: 'string' }, 'product-key': { type: 'string' }, timeout: { type: 'string' },
      'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, raw: { type: 'boolean' }, verbose: { type: 'boolean' }, strict: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) { io.stdout.write(REPLAY_HELP); return 0 }
  const file = positionals[0]
  if (file === undefined || positionals.length > 1) throw usageError('expected one recording: msnscope replay FILE --to HOST:PORT')
  if (values.to === undefined) throw usageError('--to HOST:PORT is required (the server to replay against)')
  const to = hostPort('--to', values.to, 1863)
  const speed = parseSpeed(values.speed)
  const timeoutMs = duration('--timeout', values.timeout, 10_000)
  if (values['login-url'] !== undefined) {
    try { new URL(values['login-url']) } catch { throw usageError(`--login-url: not a URL: "${values['login-url']}"`) }
  }

  const recording = await loadRecording(file === '-' ? io.stdin : file, { signal: io.stopSignal })
  for (const w of recording.source.warnings) io.stderr.write(`msnscope replay: ${file}: ${w}\n`)
  const plan = planReplay(recording.events, values.only !== undefined ? { only: values.only } : {})
  if (plan.connections.length === 0) {
    const why = plan.skipped.map((s) => `${s.conn}: ${s.reason}`).join('; ')
    throw new MsnscopeError('EREPLAY', `${file}: nothing to replay${why !== '' ? ` (${why})` : ''}`)
  }
  const accounts = accountsOf(plan)
  const password = parseSecrets('--password', values.password, accounts)
  const ticket = parseSecrets('--ticket', values.ticket, accounts)
  const creds = {
    ...(password !== undefined ? { password } : {}), ...(ticket !== undefined ? { ticket } : {}),
    ...(values['proof-key'] !== undefined ? { proofKey: values['proof-key'] } : {}),
    ...(values['login-url'] !== undefined ? { loginUrl: values['login-url'] } : {}),
    ...(values['product-id'] !== undefined ? { productId: values['product-id'] } : {}),
    ...(values['product-key'] !== undefined ? { productKey: values['product-key'] } : {}),
  }

  if (values['dry-run'] === true) {
    const lines = describePlan(plan, { to: `${to.host}:${to.port}`, ...creds })
    for (const l of lines) await writeOut(io.stdout, (values.json === true ? JSON.stringify(l) : formatDryRunLine(l)) + '\n')
    return 0
  }

  const color = wantsColor(io, io.stdout)
  const sink = (ev: ScopeEvent): void => {
    if (values.json === true) io.stdout.write(toJsonLine(ev, { raw: values.raw === true }) + '\n')
    else if (values.verbose === true || ev.kind === 'replay-diff') io.stdout.write(formatEventLine(ev, { color }) + '\n')
  }
  const options: ClientReplayOptions = { to, speed, timeoutMs, sink, signal: io.stopSignal, ...creds }
  const report = await replayClient(plan, options).done
  writeSummary(io, file, `${to.host}:${to.port}`, report, values.json === true)
  if (!report.completed) return 1
  return values.strict === true && report.differences.length > 0 ? 1 : 0
}

function writeSummary(io: CliIo, file: string, to: string, r: ReplayReport, json: boolean): void {
  const fatal = r.differences.filter((d) => d.fatal).length
  if (json) {
    io.stdout.write(JSON.stringify({ kind: 'replay-report', completed: r.completed, reason: r.reason, connections: r.connections, differences: r.differences.length, fatal }) + '\n')
    return
  }
  const out = io.stderr
  out.write(`msnscope replay: ${file} against ${to}: ${r.completed ? 'completed' : `not completed: ${r.reason ?? 'stopped'}`}\n`)
  for (const c of r.connections) {
    out.write(`  ${c.recorded} → ${c.live ?? '(not opened)'}: sent ${c.sent}, received ${c.received}${c.completed ? '' : `, stopped${c.reason !== undefined ? `: ${c.reason}` : ''}`}\n`)
  }
  out.write(`  ${r.differences.length} difference${r.differences.length === 1 ? '' : 's'}${fatal > 0 ? ` (${fatal} ended the replay)` : ''}\n`)
  if (r.differences.length > 0 && r.differences.length <= 3) for (const d of r.differences) out.write(`    ${diffText(d)}\n`)
}
