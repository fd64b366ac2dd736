/**
 * Transparent interception end to end, in network namespaces the test makes itself: a client
 * host, a router running msnscope behind iptables REDIRECT rules, and a server host running the
 * lab server on its real port. The client is not configured for any proxy.
 *
 *   client 192.0.2.2 ── 192.0.2.1 router 198.51.100.1 ── 198.51.100.10 server
 *                                                         198.51.100.11 (the lab gateway's GW-IP)
 *
 * The HTTP tests redirect port 80 to msnscope's HTTP listener on 8080, as docs/transparent.md
 * says, with the lab HTTP gateway on 198.51.100.10:80 (or a tiny web server there).
 *
 * Skips where it cannot run: not root, no `ip netns`, no iptables, or no native helper.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const tag = `msc${process.pid % 100000}`
const NS = { client: `${tag}c`, router: `${tag}r`, server: `${tag}s` }
const SERVER = '198.51.100.10'
const GW_IP = '198.51.100.11'
const ROUTER = '198.51.100.1'
const PORTS = { ds: 1863, ns: 1864, sb: 1865 }
/** the lab gateway on port 80 of the server, its GW-IP another address of the server */
const GATEWAY_ARGS = ['--gateway', `${SERVER}:80`, '--gw-ip', GW_IP]

function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}
const inNs = (ns: string, ...args: string[]): string => sh('ip', 'netns', 'exec', ns, ...args)

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and iptables)'
  try { sh('ip', '-V') } catch { return 'needs iproute2 (`ip`)' }
  try { sh('iptables', '--version') } catch { return 'needs iptables (.ci/run installs it)' }
  if (!existsSync(`${ROOT}/build/Release/original_dst.node`)) return 'needs the native helper (npm install builds it)'
  try { sh('ip', 'netns', 'add', `${tag}probe`); sh('ip', 'netns', 'del', `${tag}probe`) } catch (err) { return `cannot create network namespaces here: ${String(err).split('\n')[0]}` }
  return null
}

/** `redirects`: [destination port, msnscope's port] pairs for the router's REDIRECT rules */
function setUp(redirects: [number, number][]): void {
  tearDown()
  for (const ns of Object.values(NS)) sh('ip', 'netns', 'add', ns)
  sh('ip', 'link', 'add', `${tag}a`, 'netns', NS.client, 'type', 'veth', 'peer', 'name', `${tag}b`, 'netns', NS.router)
  sh('ip', 'link', 'add', `${tag}x`, 'netns', NS.router, 'type', 'veth', 'peer', 'name', `${tag}y`, 'netns', NS.server)
  const cfg: [string, string, string, string][] = [
    [NS.client, `${tag}a`, '192.0.2.2/24', '192.0.2.1'],
    [NS.router, `${tag}b`, '192.0.2.1/24', ''],
    [NS.router, `${tag}x`, '198.51.100.1/24', ''],
    [NS.server, `${tag}y`, `${SERVER}/24`, '198.51.100.1'],
  ]
  for (const [ns, dev, addr, gw] of cfg) {
    inNs(ns, 'ip', 'addr', 'add', addr, 'dev', dev)
    inNs(ns, 'ip', 'link', 'set', dev, 'up')
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up')
    if (gw !== '') inNs(ns, 'ip', 'route', 'add', 'default', 'via', gw)
  }
  inNs(NS.server, 'ip', 'addr', 'add', `${GW_IP}/24`, 'dev', `${tag}y`)
  inNs(NS.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
  // only what arrives from the client side is redirected: msnscope's own connections leave
  // through OUTPUT and are never redirected again
  for (const [port, to] of redirects) {
    inNs(NS.router, 'iptables', '-t', 'nat', '-A', 'PREROUTING', '-i', `${tag}b`, '-p', 'tcp', '--dport', String(port), '-j', 'REDIRECT', '--to-ports', String(to))
  }
}

function tearDown(): void {
  for (const ns of Object.values(NS)) { try { sh('ip', 'netns', 'del', ns) } catch { /* absent */ } }
}

function start(ns: string, args: string[]): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() }
}

async function nextLine(it: AsyncIterator<string>, what: string): Promise<string> {
  const r = await it.next()
  if (r.done === true) throw new Error(`${what} ended`)
  return r.value
}

/** A program run to its end in a namespace; resolves with its first line of output. */
async function runIn(ns: string, args: string[]): Promise<string> {
  const { child, lines } = start(ns, args)
  child.stdin!.end()
  const out = await nextLine(lines, args[0]!)
  if (child.exitCode === null) await new Promise((r) => child.once('exit', r))
  return out
}

interface Peer { remoteAddress: string; localPort: number; role: string }
interface GatewayLine { remoteAddress: string; localAddress: string; method: string; url: string; status: number; refused: boolean }
interface WebLine { remoteAddress: string; method: string; url: string; host: string; served: string }
interface Run<T> {
  events: Record<string, unknown>[]
  /** connections the lab server accepted */
  peers: Peer[]
  /** accounts that signed in on the lab server */
  signedIn: string[]
  /** requests the lab gateway answered */
  gateway: GatewayLine[]
  /** requests the web server answered */
  web: WebLine[]
  result: T
}

/**
 * The server namespace's programs (`serverArgs` added), msnscope in the router (transparent,
 * `proxyArgs` added), `act` once msnscope listens on every port of `listening`; then both are
 * stopped and everything they printed is returned.
 */
async function withLab<T>(o: { serverArgs?: string[]; proxyArgs: string[]; listening: number[] }, act: () => Promise<T>): Promise<Run<T>> {
  const server = start(NS.server, ['test/helpers/lab-server-main.ts', SERVER, String(PORTS.ds), String(PORTS.ns), String(PORTS.sb), ...o.serverArgs ?? []])
  const proxy = start(NS.router, ['src/cli/main.ts', 'proxy', '--mode', 'transparent', '--listen', '0.0.0.0:1863', '--json', ...o.proxyArgs])
  try {
    assert.equal(await nextLine(server.lines, 'lab server'), 'ready')
    const run: Omit<Run<T>, 'result'> = { events: [], peers: [], signedIn: [], gateway: [], web: [] }
    const collecting = (async () => { for (let l = await proxy.lines.next(); l.done !== true; l = await proxy.lines.next()) run.events.push(JSON.parse(l.value)) })()
    const serverDone = (async () => {
      for (let l = await server.lines.next(); l.done !== true; l = await server.lines.next()) {
        const v = JSON.parse(l.value) as Record<string, unknown>
        if ('signedIn' in v) run.signedIn.push(String(v.signedIn))
        else if ('gateway' in v) run.gateway.push(v.gateway as GatewayLine)
        else if ('web' in v) run.web.push(v.web as WebLine)
        else run.peers.push(v as unknown as Peer)
      }
    })()
    // wait until the proxy listens: its stderr is inherited; look at the router's sockets instead
    for (const port of o.listening) {
      for (let i = 0; ; i++) {
        try { inNs(NS.router, 'sh', '-c', `ss -ltn | grep -q ":${port} "`); break } catch { if (i > 200) throw new Error(`proxy did not listen on ${port}`); await new Promise((r) => setTimeout(r, 50)) }
      }
    }
    const result = await act()
    proxy.child.kill('SIGINT')
    server.child.stdin!.end()
    await Promise.all([collecting, serverDone])
    return { ...run, result }
  } finally {
    proxy.child.kill('SIGKILL')
    server.child.kill('SIGKILL')
  }
}

/** The lab scenario from the client namespace: over TCP to the dispatch server, or over the gateway at `gateway`. */
async function runScenario(extraProxyArgs: string[], gateway?: { serverArgs: string[]; at: string }): Promise<Run<Record<string, unknown>> & { summary: Record<string, unknown> }> {
  const run = await withLab({
    proxyArgs: extraProxyArgs, listening: gateway === undefined ? [1863] : [1863, 8080],
    ...(gateway !== undefined ? { serverArgs: gateway.serverArgs } : {}),
  }, async () => JSON.parse(await runIn(NS.client, ['test/helpers/lab-client-main.ts', SERVER, String(PORTS.ds), '12', ...gateway !== undefined ? ['--gateway', gateway.at] : []])) as Record<string, unknown>)
  return { ...run, summary: run.result }
}

const skip = whyNot()

test('transparent interception: an unconfigured client logs in and chats, msnscope sees every NS and SB command', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  // the firewall catches only the dispatch port: notification and switchboard referrals are rewritten
  setUp([[1863, 1863]])
  const run = await runScenario([])
  assert.equal(run.summary.error, undefined, String(run.summary.error))
  const cmds = run.events.filter((e) => e.kind === 'command')
  const verbs = (role: string): Set<unknown> => new Set(cmds.filter((e) => e.role === role).map((e) => e.verb))
  for (const v of ['USR', 'SYN', 'CHG', 'XFR', 'RNG', 'OUT']) assert.ok(verbs('NS').has(v), `NS ${v}`)
  for (const v of ['USR', 'CAL', 'ANS', 'IRO', 'JOI', 'MSG', 'ACK', 'BYE']) assert.ok(verbs('SB').has(v), `SB ${v}`)
  // the server saw msnscope's connections, on the ports the client aimed at
  assert.ok(run.peers.length >= 10)
  for (const p of run.peers) assert.equal(p.remoteAddress, '198.51.100.1', 'every connection to the server comes from the router')
  assert.deepEqual(new Set(run.peers.map((p) => p.localPort)), new Set([PORTS.ds, PORTS.ns, PORTS.sb]))
  const opens = run.events.filter((e) => e.kind === 'session-open')
  assert.ok(opens.some((e) => e.server === `${SERVER}:${PORTS.ds}` && String(e.client).startsWith('192.0.2.2:')), 'the original destination was recovered from the socket')
  const redirects = run.events.filter((e) => e.kind === 'redirect')
  assert.ok(redirects.length > 0 && redirects.every((r) => typeof r.handedOut === 'string' && String(r.handedOut).startsWith('192.0.2.1:')), 'ports the firewall does not catch are rewritten to the router')
})

test('transparent interception with every port redirected leaves referrals alone and says so', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  setUp([[PORTS.ds, 1863], [PORTS.ns, 1863], [PORTS.sb, 1863]])
  const run = await runScenario(['--redirected-ports', `${PORTS.ds},${PORTS.ns},${PORTS.sb}`])
  assert.equal(run.summary.error, undefined, String(run.summary.error))
  const redirects = run.events.filter((e) => e.kind === 'redirect')
  assert.ok(redirects.length > 0 && redirects.every((r) => r.handedOut === null && /firewall redirects/.test(String(r.note))))
  const opens = run.events.filter((e) => e.kind === 'session-open')
  assert.ok(opens.some((e) => e.server === `${SERVER}:${PORTS.sb}`), 'switchboard connections carry their original destination')
  for (const p of run.peers) assert.equal(p.remoteAddress, '198.51.100.1')
})

test('transparent interception with --block-all: the login fails cleanly', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  setUp([[1863, 1863]])
  const run = await runScenario(['--block-all'])
  assert.match(String(run.summary.error), /./, 'the scenario cannot sign in')
  const blocked = run.events.filter((e) => e.kind === 'command' && e.action !== 'pass')
  assert.ok(blocked.length > 0, 'msnscope acted on the login')
  assert.equal(run.peers.filter((p) => p.role === 'NS').length, 0, 'no connection ever reached the notification server')
})

const HTTP_REDIRECTS: [number, number][] = [[1863, 1863], [80, 8080]]
const HTTP_ARGS = ['--http-listen', '0.0.0.0:8080']
const commandsOf = (run: Run<unknown>): Record<string, unknown>[] => run.events.filter((e) => e.kind === 'command')
const verbOf = (e: Record<string, unknown>): unknown => e.verb

test('transparent HTTP: an unconfigured client on the HTTP gateway logs in and chats, msnscope decodes every NS and SB command on the way', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  setUp(HTTP_REDIRECTS)
  const run = await runScenario(HTTP_ARGS, { serverArgs: GATEWAY_ARGS, at: `${SERVER}:80` })
  assert.equal(run.summary.error, undefined, String(run.summary.error))
  assert.deepEqual(new Set(run.signedIn), new Set(['alice@example.com', 'bob@example.net', 'carol@example.org']))
  const cmds = commandsOf(run)
  assert.ok(cmds.length > 0 && cmds.every((e) => e.transport === 'http'), 'every command came over the gateway')
  const verbs = (role: string): Set<unknown> => new Set(cmds.filter((e) => e.role === role).map(verbOf))
  for (const v of ['VER', 'USR', 'SYN', 'CHG', 'XFR', 'RNG', 'OUT']) assert.ok(verbs('NS').has(v), `NS ${v}`)
  for (const v of ['USR', 'CAL', 'ANS', 'IRO', 'JOI', 'MSG', 'ACK', 'BYE']) assert.ok(verbs('SB').has(v), `SB ${v}`)
  // sessions were opened toward the gateway the client aimed at, from the client itself
  const opens = run.events.filter((e) => e.kind === 'session-open')
  assert.ok(opens.length >= 5 && opens.every((e) => e.transport === 'http' && e.server === `${SERVER}:80` && String(e.client).startsWith('192.0.2.2:')))
  // GW-IP is on port 80, which the firewall redirects: left alone, and the events say so
  const redirects = run.events.filter((e) => e.kind === 'redirect')
  assert.ok(redirects.length >= opens.length, 'a GW-IP per session')
  for (const r of redirects) assert.deepEqual([r.verb, r.real, r.handedOut, r.note], ['GW-IP', GW_IP, null, 'left alone: the firewall redirects port 80 to msnscope'])
  assert.ok(run.events.some((e) => e.kind === 'http' && e.from === 'server' && e.gwIp === GW_IP && /left alone/.test(String(e.note))))
  // the lab gateway saw every request from the router, on the address the client aimed at
  // each time: the gateway's own first, then the GW-IP the client followed
  assert.ok(run.gateway.length > opens.length)
  for (const r of run.gateway) {
    assert.equal(r.remoteAddress, ROUTER, 'every gateway request comes from the router')
    assert.equal(r.refused, false)
  }
  assert.deepEqual(new Set(run.gateway.map((r) => r.localAddress)), new Set([SERVER, GW_IP]))
  assert.ok(run.gateway.filter((r) => /Action=open/.test(r.url)).every((r) => r.localAddress === SERVER))
  // nothing reached the lab server's TCP ports but the gateway's own connections
  for (const p of run.peers) assert.equal(p.remoteAddress, SERVER, 'the lab server was reached only through the gateway')
})

test('transparent HTTP: other HTTP on port 80 passes through untouched and is not decoded', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  setUp(HTTP_REDIRECTS)
  // a page, a form post and a connection upgrade, each as a client would send it
  const requests: { url: string; body?: string; method: string; status: number }[] = [
    { url: `http://${SERVER}/login.srf?lc=1033`, method: 'GET', status: 200 },
    { url: `http://${SERVER}/ppsecure/post.srf`, body: 'login=alice%40example.com&passwd=x', method: 'POST', status: 200 },
    { url: `http://${SERVER}/chat`, body: '--upgrade', method: 'GET', status: 101 },
  ]
  const run = await withLab({ serverArgs: ['--web', `${SERVER}:80`], proxyArgs: HTTP_ARGS, listening: [8080] }, async () => {
    const answers: Record<string, unknown>[] = []
    for (const r of requests) answers.push(JSON.parse(await runIn(NS.client, ['test/helpers/http-get-main.ts', r.url, ...r.body !== undefined ? [r.body] : []])))
    return answers
  })
  assert.equal(run.web.length, requests.length)
  for (const [i, r] of requests.entries()) {
    const got = run.result[i]!
    const served = run.web[i]!
    assert.equal(got.error, undefined, String(got.error))
    assert.equal(got.status, r.status)
    assert.equal(got.body, served.served, `${r.url}: the client got the bytes the server sent`)
    if (r.method === 'POST') assert.ok(Buffer.from(served.served, 'base64').toString('latin1').endsWith(r.body!), 'the request body arrived as sent')
    if (r.status === 200) assert.equal((got.headers as Record<string, unknown>)['x-lab-web'], 'yes')
    assert.deepEqual([served.method, served.url, served.host], [r.method, r.url.slice(`http://${SERVER}`.length), SERVER])
    assert.equal(served.remoteAddress, ROUTER, 'it went on from the router to its original destination')
  }
  assert.deepEqual(run.events.filter((e) => e.kind !== 'stats'), [], 'no commands, sessions or refusals')
  const stats = run.events.filter((e) => e.kind === 'stats').at(-1)
  assert.equal((stats?.counters as Record<string, unknown> | undefined)?.passedThrough, requests.length)
})

test('transparent HTTP with --block-all: the login over the gateway fails cleanly', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  setUp(HTTP_REDIRECTS)
  const run = await runScenario([...HTTP_ARGS, '--block-all'], { serverArgs: GATEWAY_ARGS, at: `${SERVER}:80` })
  assert.match(String(run.summary.error), /./, 'the scenario cannot sign in')
  const cmds = commandsOf(run)
  assert.ok(cmds.length > 0 && cmds.every((e) => e.transport === 'http'))
  assert.ok(cmds.some((e) => e.action !== 'pass' && e.role === 'NS'), 'msnscope acted on the login')
  assert.equal(cmds.filter((e) => ['USR', 'SYN', 'CHG'].includes(String(verbOf(e))) && e.action === 'pass').length, 0, 'no login command got through')
  assert.deepEqual(run.signedIn, [], 'the lab gateway\'s backend never saw a signed-in user')
  for (const r of run.gateway) assert.equal(r.remoteAddress, ROUTER)
  const opens = run.events.filter((e) => e.kind === 'session-open').map((e) => e.conn)
  const closes = run.events.filter((e) => e.kind === 'session-close').map((e) => e.conn)
  assert.ok(opens.length > 0)
  assert.deepEqual(new Set(closes), new Set(opens), 'every gateway session ends with a session-close')
})
