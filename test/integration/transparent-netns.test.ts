/**
 * Transparent interception end to end, in network namespaces the test makes itself: a client
 * host, a router running msnscope behind iptables REDIRECT rules, and a server host running the
 * lab server on its real port. The client is not configured for any proxy.
 *
 *   client 192.0.2.2 ── 192.0.2.1 router 198.51.100.1 ── 198.51.100.10 server
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
const PORTS = { ds: 1863, ns: 1864, sb: 1865 }

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

function setUp(redirectedPorts: number[]): void {
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
  inNs(NS.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
  // only what arrives from the client side is redirected: msnscope's own connections leave
  // through OUTPUT and are never redirected again
  for (const port of redirectedPorts) {
    inNs(NS.router, 'iptables', '-t', 'nat', '-A', 'PREROUTING', '-i', `${tag}b`, '-p', 'tcp', '--dport', String(port), '-j', 'REDIRECT', '--to-ports', '1863')
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

interface Run { events: Record<string, unknown>[]; peers: { remoteAddress: string; localPort: number; role: string }[]; summary: Record<string, unknown> }

async function runScenario(extraProxyArgs: string[]): Promise<Run> {
  const server = start(NS.server, ['test/helpers/lab-server-main.ts', SERVER, String(PORTS.ds), String(PORTS.ns), String(PORTS.sb)])
  const proxy = start(NS.router, ['src/cli/main.ts', 'proxy', '--mode', 'transparent', '--listen', '0.0.0.0:1863', '--json', ...extraProxyArgs])
  try {
    assert.equal(await nextLine(server.lines, 'lab server'), 'ready')
    const events: Record<string, unknown>[] = []
    const peers: Run['peers'] = []
    const collecting = (async () => { for (let l = await proxy.lines.next(); l.done !== true; l = await proxy.lines.next()) events.push(JSON.parse(l.value)) })()
    const peersDone = (async () => { for (let l = await server.lines.next(); l.done !== true; l = await server.lines.next()) peers.push(JSON.parse(l.value)) })()
    // wait until the proxy listens: its stderr is inherited; probe from the client namespace instead
    for (let i = 0; ; i++) {
      try { inNs(NS.router, 'sh', '-c', 'ss -ltn | grep -q ":1863 "'); break } catch { if (i > 200) throw new Error('proxy did not start'); await new Promise((r) => setTimeout(r, 50)) }
    }
    const client = spawn('ip', ['netns', 'exec', NS.client, process.execPath, '--import', 'tsx', 'test/helpers/lab-client-main.ts', SERVER, String(PORTS.ds), '12'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    const out = await nextLine(createInterface({ input: client.stdout! })[Symbol.asyncIterator](), 'client')
    await new Promise((r) => client.once('exit', r))
    proxy.child.kill('SIGINT')
    server.child.stdin!.end()
    await Promise.all([collecting, peersDone])
    return { events, peers, summary: JSON.parse(out) }
  } finally {
    proxy.child.kill('SIGKILL')
    server.child.kill('SIGKILL')
  }
}

const skip = whyNot()

test('transparent interception: an unconfigured client logs in and chats, msnscope sees every NS and SB command', { skip: skip ?? false }, async (t) => {
  t.after(tearDown)
  // the firewall catches only the dispatch port: notification and switchboard referrals are rewritten
  setUp([1863])
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
  setUp([PORTS.ds, PORTS.ns, PORTS.sb])
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
  setUp([1863])
  const run = await runScenario(['--block-all'])
  assert.match(String(run.summary.error), /./, 'the scenario cannot sign in')
  const blocked = run.events.filter((e) => e.kind === 'command' && e.action !== 'pass')
  assert.ok(blocked.length > 0, 'msnscope acted on the login')
  assert.equal(run.peers.filter((p) => p.role === 'NS').length, 0, 'no connection ever reached the notification server')
})
