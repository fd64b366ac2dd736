/**
 * `msnscope demo`: the embedded lab (an MSN server with dispatch, notification, switchboard and
 * HTTP gateway), the proxy in front of it on both transports, and scripted clients that sign in,
 * chat, send invitations and P2P messages and sign out, in a loop over dialects and transports,
 * shown live. Needs nothing but the install; everything listens on loopback ports of its own.
 */
import { parseArgs } from 'node:util'
import { parseDialect } from '../protocol/decoder.js'
import { startLabServer } from '../lab/server.js'
import { startLabGateway, gatewayTransport } from '../lab/gateway.js'
import { runLabScenario } from '../lab/scenario.js'
import { EventHub } from '../transport/hub.js'
import { HttpGateway } from '../transport/http-gateway.js'
import { TcpProxy } from '../transport/tcp-proxy.js'
import { SessionTracker } from '../session/tracker.js'
import { usageError, type Subcommand } from './io.js'
import { liveControls } from './live-controls.js'
import { startLiveOutput } from './live-output.js'
import { filterOption, megabytes, positiveInt } from './options.js'

export const DEMO_HELP = `Usage: msnscope demo [options]

Runs an MSN server of msnscope's own, the proxy in front of it (TCP and HTTP gateway), and three
scripted clients (alice, bob, carol) who sign in, set presence and personal messages, chat
(text, typing, nudges), send file-transfer invitations and a P2P message, and sign out; over
and over, in several dialects, over TCP and over the HTTP gateway. Quit with q (dashboard) or
Ctrl-C.

Options:
  --json               JSON lines on stdout, as the proxy prints them, instead of the live view
  --raw                with --json, include the exact bytes (base64)
  --no-tui             one readable line per event instead of the dashboard
  --filter EXPR        show only the events EXPR matches, in the filter language of the
                       dashboard ('~verb MSG & ~from client'; docs/tui.md); saved files keep all
  --once               run each dialect and transport once, then exit
  --dialect MSNPn      only this dialect (default: MSNP8, MSNP12 and MSNP18 in turn)
  --transport T        tcp, gateway or both (default both)
  --delay MS           pause between scenario steps (default 600, 0 with --once)
  --save FILE          also save events to FILE.jsonl or FILE.pcap (repeatable)
  --no-redact          keep secrets (tickets, cookies) in saved files
  --memory-cap SIZE    dashboard memory cap (default 300MB)
`

export const run: Subcommand = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' }, raw: { type: 'boolean' }, 'no-tui': { type: 'boolean' }, once: { type: 'boolean' }, filter: { type: 'string' },
      dialect: { type: 'string' }, transport: { type: 'string' }, delay: { type: 'string' },
      save: { type: 'string', multiple: true }, 'no-redact': { type: 'boolean' }, 'memory-cap': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) { io.stdout.write(DEMO_HELP); return 0 }
  let dialects = [8, 12, 18]
  if (values.dialect !== undefined) {
    const d = parseDialect(values.dialect)
    if (d === null || d > 18) throw usageError(`--dialect: the lab speaks MSNP2 to MSNP18, got "${values.dialect}"`)
    dialects = [d]
  }
  const transport = values.transport ?? 'both'
  if (!['tcp', 'gateway', 'both'].includes(transport)) throw usageError('--transport must be tcp, gateway or both')
  const once = values.once === true
  const delayMs = values.delay === undefined ? (once ? 0 : 600) : values.delay === '0' ? 0 : positiveInt('--delay', values.delay, 600)

  const hub = new EventHub()
  const live = liveControls(hub, null)
  const out = await startLiveOutput(io, {
    json: values.json === true, raw: values.raw === true, noTui: values['no-tui'] === true,
    save: values.save ?? [], redact: values['no-redact'] !== true, title: 'msnscope demo: the lab through the proxy',
    memoryCap: megabytes('--memory-cap', values['memory-cap'], 300),
    controls: live.controls, filter: filterOption(values.filter),
  })
  const tracker = new SessionTracker()
  hub.addSink(out.sink)
  const lab = await startLabServer({ host: '127.0.0.1' })
  const labGateway = await startLabGateway({ host: '127.0.0.1', gwIp: null, backend: { ns: lab.ns, sb: lab.sb } })
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, hub, tracker })
  const gateway = new HttpGateway({ listen: { host: '127.0.0.1', port: 0 }, upstream: labGateway.address, hub, tracker })
  proxy.decider = live.decider
  gateway.decider = live.decider
  const stopped = new Promise<void>((resolve) => {
    io.stopSignal.addEventListener('abort', () => resolve(), { once: true })
    void out.closed.then(() => resolve())
  })
  let stop = false
  void stopped.then(() => { stop = true })
  let failures = 0
  try {
    const tcp = await proxy.start()
    live.attach(proxy)
    const http = await gateway.start()
    if (out.mode === 'lines') io.stderr.write(`msnscope demo: lab server at ${lab.ds.host}:${lab.ds.port}, proxy at ${tcp.host}:${tcp.port} (TCP) and ${http.host}:${http.port} (HTTP gateway)\n`)
    const transports = transport === 'both' ? ['tcp', 'gateway'] : [transport]
    do {
      for (const d of dialects) {
        for (const t of transports) {
          if (stop) break
          const run = runLabScenario({
            serverHost: tcp.host, port: tcp.port, dialect: d, delayMs,
            ...(t === 'gateway' ? { transport: gatewayTransport({ gateway: http }) } : {}),
          })
          const result = await Promise.race([run.then(() => 'done' as const, (err: unknown) => err), stopped.then(() => 'stopped' as const)])
          if (result !== 'done' && result !== 'stopped') {
            failures++
            if (out.mode === 'lines') io.stderr.write(`msnscope demo: MSNP${d} over ${t}: ${String(result)}\n`)
          }
        }
      }
    } while (!once && !stop)
    if (!once) await stopped
  } finally {
    await gateway.close()
    await proxy.close()
    await labGateway.close()
    await lab.close()
    await out.close()
  }
  return failures > 0 && once ? 1 : 0
}
