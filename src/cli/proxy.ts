/** `msnscope proxy`: the live man-in-the-middle. */
import { parseArgs } from 'node:util'
import { endpoint, EventHub } from '../transport/hub.js'
import { DEFAULT_GATEWAY_UPSTREAM, HttpGateway } from '../transport/http-gateway.js'
import { TcpProxy } from '../transport/tcp-proxy.js'
import { usageError, type Subcommand } from './io.js'
import { liveControls } from './live-controls.js'
import { startLiveOutput } from './live-output.js'
import { duration, filterOption, hostPort, listenAddress, megabytes, openFileWarning, positiveInt } from './options.js'
import { RULE_HELP, RULE_OPTIONS, rulesFromFlags } from './rule-flags.js'

export const PROXY_HELP = `Usage: msnscope proxy [options]

Listens for MSN clients and relays them to the real server, decoding every command. The
addresses in XFR and RNG are replaced with addresses of the proxy, so every notification and
switchboard connection of a session goes through msnscope too.

Options:
  --listen HOST:PORT       where clients connect (default 127.0.0.1:1863)
  --upstream HOST:PORT     the real server (default messenger.hotmail.com:1863)
  --advertise HOST         the address handed to clients in rewritten referrals
                           (default: the address the client used to reach the proxy)
  --dial-from ADDRESS      local address for connections to the server
  --json                   JSON lines on stdout instead of the dashboard
  --raw                    with --json, include the exact bytes (base64)
  --no-tui                 one readable line per event instead of the dashboard
  --filter EXPR            show only the events EXPR matches, in the filter language of the
                           dashboard ('~verb MSG & ~from client'; docs/tui.md); the
                           dashboard starts with it as its view filter; saved files keep all
  --save FILE              also save events: FILE.jsonl (JSON lines) or FILE.pcap; repeatable
  --no-redact              keep secrets (hashes, tickets, cookies) in saved files
  --max-connections N      refuse clients beyond N open connections (default 1000)
  --idle-timeout TIME      close connections silent for this long (default 15m)
  --max-line N             longest command line accepted (default 16384)
  --max-payload N          largest payload accepted (default 1048576)
  --redirect-ports LO-HI   ports for referral listeners (default: ephemeral)
  --mode MODE              explicit (default): clients connect to msnscope as their server;
                           transparent: the firewall redirects clients' connections here (TCP
                           to --listen, port 80 to --http-listen) and each goes on to its
                           original destination (docs/transparent.md);
                           socks5: clients use msnscope as their SOCKS5/SOCKS4a proxy
  --redirected-ports LIST  transparent mode: ports the firewall redirects (default 1863);
                           referrals to other ports are rewritten to keep them inside
  --memory-cap SIZE        dashboard memory cap (default 300MB)

HTTP gateway (clients that tunnel MSNP through gateway.dll; docs/gateway.md):
  --http                   also listen for gateway traffic on 127.0.0.1:8080
  --http-listen HOST:PORT  listen for gateway traffic there (reverse mode: clients that
                           reach msnscope as their gateway host; forward-proxy mode:
                           clients that name msnscope as their HTTP proxy; with --mode
                           transparent, port-80 traffic the firewall redirects there:
                           gateway requests are decoded, any other HTTP passes untouched)
  --gateway-upstream HOST:PORT  the real gateway for reverse mode
                           (default gateway.messenger.hotmail.com:80)
  --allow-any-http         relay any HTTP request and CONNECT, not only MSN gateway traffic

${RULE_HELP}`

export const run: Subcommand = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' }, upstream: { type: 'string' }, advertise: { type: 'string' }, 'dial-from': { type: 'string' },
      json: { type: 'boolean' }, raw: { type: 'boolean' }, 'no-tui': { type: 'boolean' }, filter: { type: 'string' },
      save: { type: 'string', multiple: true }, 'no-redact': { type: 'boolean' },
      'max-connections': { type: 'string' }, 'idle-timeout': { type: 'string' }, 'max-line': { type: 'string' }, 'max-payload': { type: 'string' },
      'redirect-ports': { type: 'string' }, 'memory-cap': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      mode: { type: 'string' }, 'redirected-ports': { type: 'string' },
      http: { type: 'boolean' }, 'http-listen': { type: 'string' }, 'gateway-upstream': { type: 'string' }, 'allow-any-http': { type: 'boolean' },
      ...RULE_OPTIONS,
    },
  })
  if (values.help === true) { io.stdout.write(PROXY_HELP); return 0 }
  const listen = listenAddress('--listen', values.listen ?? '127.0.0.1:1863', 1863)
  const upstream = hostPort('--upstream', values.upstream ?? 'messenger.hotmail.com:1863', 1863)
  let redirectPorts: [number, number] | undefined
  if (values['redirect-ports'] !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(values['redirect-ports'])
    if (m === null || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) throw usageError('--redirect-ports: expected LO-HI, for example 40000-40099')
    redirectPorts = [Number(m[1]), Number(m[2])]
  }
  const mode = values.mode ?? 'explicit'
  if (mode !== 'explicit' && mode !== 'transparent' && mode !== 'socks5') throw usageError('--mode must be explicit, transparent or socks5')
  let redirectedPorts: number[] | undefined
  if (values['redirected-ports'] !== undefined) {
    redirectedPorts = values['redirected-ports'].split(',').map((p) => Number(p.trim()))
    if (redirectedPorts.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) throw usageError('--redirected-ports: expected a comma-separated list of ports, for example 1863,80')
  }
  const wantsHttp = values.http === true || values['http-listen'] !== undefined
  if (!wantsHttp && (values['gateway-upstream'] !== undefined || values['allow-any-http'] === true)) throw usageError('--gateway-upstream and --allow-any-http need --http or --http-listen')
  const httpListen = wantsHttp ? listenAddress('--http-listen', values['http-listen'] ?? '127.0.0.1:8080', 80) : null
  const gatewayUpstream = hostPort('--gateway-upstream', values['gateway-upstream'] ?? `${DEFAULT_GATEWAY_UPSTREAM.host}:${DEFAULT_GATEWAY_UPSTREAM.port}`, 80)
  const hub = new EventHub()
  const maxConnections = positiveInt('--max-connections', values['max-connections'], 1000)
  const fds = openFileWarning(maxConnections)
  if (fds !== null) io.stderr.write(`msnscope proxy: warning: ${fds}\n`)
  const rules = await rulesFromFlags(values, { watch: true, emit: (ev) => hub.emit(ev) })
  const live = liveControls(hub, rules === null ? null : { decide: rules.engine.decide, reload: () => rules.reload() })
  const limits = { maxLine: positiveInt('--max-line', values['max-line'], 16384), maxPayload: positiveInt('--max-payload', values['max-payload'], 1048576) }
  const save = values.save ?? []
  // --json with nothing that reads decoded fields as commands pass (no rules, no JSONL file; no
  // dashboard, so no intercept): TCP commands are only framed on their way through, and decoded
  // when their JSON line is written (docs/proxy.md)
  const decodeLate = values.json === true && rules === null && !save.some((f) => f.endsWith('.jsonl') || f.endsWith('.json'))
  const out = await startLiveOutput(io, {
    json: values.json === true, raw: values.raw === true, noTui: values['no-tui'] === true,
    save, redact: values['no-redact'] !== true, title: `msnscope proxy ${listen.host}:${listen.port} → ${upstream.host}:${upstream.port}`,
    memoryCap: megabytes('--memory-cap', values['memory-cap'], 300),
    controls: live.controls, filter: filterOption(values.filter),
  })
  const proxy = new TcpProxy({
    listen, upstream, hub, mode,
    ...(redirectedPorts !== undefined ? { redirectedPorts } : {}),
    ...(values.advertise !== undefined ? { advertise: values.advertise } : {}),
    ...(values['dial-from'] !== undefined ? { dialFrom: values['dial-from'] } : {}),
    maxConnections,
    idleTimeoutMs: duration('--idle-timeout', values['idle-timeout'], 15 * 60_000),
    limits, decode: !decodeLate,
    ...(redirectPorts !== undefined ? { redirectPorts } : {}),
  })
  proxy.addSink(out.sink)
  // The gateway shares the event hub, the session tracker and the decision point with the TCP proxy.
  const gateway = httpListen === null ? null : new HttpGateway({
    listen: httpListen, upstream: gatewayUpstream, hub, tracker: proxy.tracker, allowAnyHttp: values['allow-any-http'] === true,
    ...(mode === 'transparent' ? { mode: 'transparent' as const } : {}),
    ...(values.advertise !== undefined ? { advertise: values.advertise } : {}),
    ...(values['dial-from'] !== undefined ? { dialFrom: values['dial-from'] } : {}),
    maxSessions: maxConnections,
    ...(values['idle-timeout'] !== undefined ? { idleTimeoutMs: duration('--idle-timeout', values['idle-timeout'], 5 * 60_000) } : {}),
    limits,
  })
  proxy.decider = live.decider
  if (gateway !== null) gateway.decider = live.decider
  if (rules !== null) {
    proxy.addSink(rules.engine.observe)
    if (out.mode !== 'tui') {
      for (const line of rules.listing()) io.stderr.write(`msnscope proxy: rule ${line}\n`)
      rules.files.on('reload', (r) => io.stderr.write(`msnscope proxy: reloaded ${r.file} (${r.rules} rules)\n`))
      rules.files.on('reload-failed', (r) => io.stderr.write(`msnscope proxy: ${r.error}\n`))
    }
  }
  try {
    const addr = await proxy.start()
    live.attach(proxy)
    if (out.mode !== 'tui') io.stderr.write(`msnscope proxy: listening on ${endpoint(addr.host, addr.port)}${mode === 'explicit' ? `, upstream ${endpoint(upstream.host, upstream.port)}` : ` (${mode})`}\n`)
    if (gateway !== null) {
      const g = await gateway.start()
      if (out.mode !== 'tui') io.stderr.write(`msnscope proxy: HTTP gateway on ${endpoint(g.host, g.port)}, ${mode === 'transparent' ? 'transparent (not redirected: ' : ''}upstream gateway ${endpoint(gatewayUpstream.host, gatewayUpstream.port)}${mode === 'transparent' ? ')' : ''}\n`)
    }
    await Promise.race([out.closed, new Promise<void>((resolve) => io.stopSignal.addEventListener('abort', () => resolve(), { once: true }))])
  } finally {
    await gateway?.close()
    await proxy.close()
    rules?.close()
    await out.close()
  }
  return 0
}
