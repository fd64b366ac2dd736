/**
 * HTTP gateway requests per second and latency for 1, 10 and 50 concurrent gateway sessions:
 * the same closed-loop load (each session one request at a time, a MSG in every request body
 * and in every answer body) sent straight to a gateway, through a bare http-proxy relay with a
 * keep-alive agent, and through msnscope's gateway in reverse mode (every body decoded and
 * every command decided; events counted, and in a second run also turned into JSON lines that
 * are thrown away). The target compares msnscope with the bare relay. Gateway, relays and load
 * generator each run in their own process; this file is all of them (`node bench/gateway.ts <role> …`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const SELF = fileURLToPath(import.meta.url)
const SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 1.5)
/** each path is measured this many times, interleaved with the others; medians are printed */
const ROUNDS = Number(process.env.BENCH_GATEWAY_ROUNDS ?? 3)
const HOST = '127.0.0.1'

const MIME = 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\n'
const TEXT = MIME + 'x'.repeat(240)
const toServer = (trId: number): Buffer => Buffer.from(`MSG ${trId} N ${Buffer.byteLength(TEXT)}\r\n${TEXT}`)
const fromServer = Buffer.from(`MSG bob@example.net Bob ${Buffer.byteLength(TEXT)}\r\n${TEXT}`)

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port)))
}

/** A gateway that answers every request at once: a new SessionID, and a MSG from the other party. */
async function runUpstream(): Promise<void> {
  let next = 1_000_000
  const minor = new Map<string, number>()
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume()
    req.on('end', () => {
      const m = /SessionID=(\d+)/.exec(req.url ?? '')
      const key = m?.[1] ?? String(next++)
      const n = (minor.get(key) ?? 0) + 1
      minor.set(key, n)
      res.writeHead(200, { 'X-MSN-Messenger': `SessionID=${key}.${n}; GW-IP=${HOST}`, 'Content-Type': 'application/x-msn-messenger', 'Content-Length': fromServer.length })
      res.end(fromServer)
    })
  })
  console.log(await listen(server))
}

/** The baseline: http-proxy piping requests and answers through, with a keep-alive agent. */
async function runBareRelay(upstreamPort: number): Promise<void> {
  const { default: httpProxy } = await import('http-proxy')
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const proxy = httpProxy.createProxyServer({ target: { host: HOST, port: upstreamPort, protocol: 'http:' }, agent })
  proxy.on('error', (_e, _req, res) => { if ('writeHead' in res) { res.writeHead(502); res.end() } })
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => proxy.web(req, res))
  console.log(await listen(server))
}

/** msnscope's gateway in reverse mode; its events are counted, or (`json`) become JSON lines that go nowhere. */
async function runScope(upstreamPort: number, json: boolean): Promise<void> {
  // the compiled code that ships (dist/), not the test-time transpilation
  const dist = (p: string): string => new URL(`../dist/${p}`, import.meta.url).href
  if (!existsSync(fileURLToPath(dist('transport/http-gateway.js')))) throw new Error('dist/ is missing: run npm run build first')
  const { HttpGateway } = (await import(dist('transport/http-gateway.js'))) as typeof import('../src/transport/http-gateway.js')
  const { toJsonLine } = (await import(dist('sinks/json.js'))) as typeof import('../src/sinks/json.js')
  const gw = new HttpGateway({ listen: { host: HOST, port: 0 }, upstream: { host: HOST, port: upstreamPort }, statsIntervalMs: 0 })
  let seen = 0
  gw.addSink(json ? (ev) => { seen += toJsonLine(ev).length } : () => { seen++ })
  const addr = await gw.start()
  console.log(addr.port)
  process.on('SIGTERM', () => { void gw.close().then(() => process.exit(0)) })
}

/** `sessions` closed-loop gateway sessions for SECONDS; prints requests/s and latency percentiles. */
async function runLoad(port: number, sessions: number, seconds: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sessions })
  const lat: number[] = []
  const deadline = Date.now() + seconds * 1000
  const request = (path: string, body: Buffer): Promise<string> => new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, method: 'POST', path, agent, headers: { 'Content-Type': 'application/x-msn-messenger', 'Content-Length': body.length } }, (res) => {
      res.resume()
      res.on('end', () => {
        const h = String(res.headers['x-msn-messenger'] ?? '')
        const sid = /SessionID=([^;]+)/.exec(h)?.[1]
        if (res.statusCode !== 200 || sid === undefined) reject(new Error(`answer ${res.statusCode}`))
        else resolve(sid)
      })
    })
    req.on('error', reject)
    req.end(body)
  })
  const session = async (): Promise<number> => {
    let sid = await request('/gateway/gateway.dll?Action=open&Server=SB&IP=127.0.0.1', Buffer.from('USR 1 alice@example.com 1234.5678.91011\r\n'))
    let n = 0
    for (let trId = 2; Date.now() < deadline; trId++) {
      const t0 = process.hrtime.bigint()
      sid = await request(`/gateway/gateway.dll?SessionID=${sid}`, toServer(trId))
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6)
      n++
    }
    return n
  }
  const started = Date.now()
  const counts = await Promise.all(Array.from({ length: sessions }, session))
  const total = counts.reduce((a, b) => a + b, 0)
  lat.sort((a, b) => a - b)
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0
  console.log(JSON.stringify({ requests: total, reqPerSec: total / ((Date.now() - started) / 1000), p50ms: pct(0.5), p99ms: pct(0.99) }))
  agent.destroy()
}

function start(args: string[]): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`bench/gateway.ts ${args.join(' ')} exited ${code}`)))
  })
  return { child, firstLine }
}

interface LoadResult { requests: number; reqPerSec: number; p50ms: number; p99ms: number }

/** CPU time a process has used (user + system), in ms; from /proc, 0 where there is none. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10
  } catch { return 0 }
}

type Median = LoadResult & { cpuUs: number | null }

/** Each figure's median over the runs (a busy machine disturbs some runs, not most). */
function median(runs: Median[]): Median {
  const mid = <T>(xs: T[]): T => xs[Math.floor(xs.length / 2)]!
  const of = (f: (r: Median) => number): number => mid(runs.map(f).sort((a, b) => a - b))
  const cpu = runs.every((r) => r.cpuUs !== null) ? of((r) => r.cpuUs!) : null
  return { requests: of((r) => r.requests), reqPerSec: of((r) => r.reqPerSec), p50ms: of((r) => r.p50ms), p99ms: of((r) => r.p99ms), cpuUs: cpu }
}

/** Load one port and measure the CPU the relay process spent per request. */
async function measure(port: number, sessions: number, relay: ChildProcess | null): Promise<LoadResult & { cpuUs: number | null }> {
  const c0 = cpuMs(relay?.pid)
  const r = await load(port, sessions)
  return { ...r, cpuUs: relay === null ? null : ((cpuMs(relay.pid) - c0) * 1000) / r.requests }
}

async function load(port: number, sessions: number): Promise<LoadResult> {
  const { child, firstLine } = start(['load', String(port), String(sessions), String(SECONDS)])
  const line = await firstLine
  child.kill()
  return JSON.parse(line) as LoadResult
}

export async function benchGateway(): Promise<void> {
  const upstream = start(['upstream'])
  const upstreamPort = Number(await upstream.firstLine)
  const relay = start(['relay', String(upstreamPort)])
  const scope = start(['scope', String(upstreamPort)])
  const scopeJson = start(['scope', String(upstreamPort), 'json'])
  const [relayPort, scopePort, jsonPort] = (await Promise.all([relay.firstLine, scope.firstLine, scopeJson.firstLine])).map(Number) as [number, number, number]
  try {
    console.log(`gateway: closed-loop requests; a ${toServer(10).length} B MSG in every request, a ${fromServer.length} B MSG in every answer; medians of ${ROUNDS} interleaved runs of ${SECONDS}s per path`)
    console.log('sessions  path         req/s   p50 ms  p99 ms  relay CPU µs/req')
    for (const sessions of [1, 10, 50]) {
      const runs: Array<Array<LoadResult & { cpuUs: number | null }>> = [[], [], [], []]
      for (let round = 0; round < ROUNDS; round++) {
        runs[0]!.push(await measure(upstreamPort, sessions, null))
        runs[1]!.push(await measure(relayPort, sessions, relay.child))
        runs[2]!.push(await measure(scopePort, sessions, scope.child))
        runs[3]!.push(await measure(jsonPort, sessions, scopeJson.child))
      }
      const [direct, bare, ours, withJson] = runs.map(median) as [Median, Median, Median, Median]
      for (const [name, r] of [['direct', direct], ['http-proxy', bare], ['msnscope', ours], ['  + --json', withJson]] as const) {
        console.log(`${String(sessions).padStart(8)}  ${name.padEnd(10)} ${r.reqPerSec.toFixed(0).padStart(7)}  ${r.p50ms.toFixed(3).padStart(6)}  ${r.p99ms.toFixed(3).padStart(6)}  ${r.cpuUs === null ? '' : r.cpuUs.toFixed(0).padStart(8)}`)
      }
      console.log(`          msnscope/http-proxy: ${((ours.reqPerSec / bare.reqPerSec) * 100).toFixed(1)}% of the requests/s (target >= 80%), ${bare.cpuUs !== null && ours.cpuUs !== null ? ((bare.cpuUs / ours.cpuUs) * 100).toFixed(1) : '?'}% by CPU per request; p99 ${(ours.p99ms - bare.p99ms).toFixed(3)} ms above the bare relay`)
    }
  } finally {
    scope.child.kill('SIGTERM')
    scopeJson.child.kill('SIGTERM')
    relay.child.kill()
    upstream.child.kill()
  }
}

const [role, ...rest] = process.argv.slice(2)
if (process.argv[1] !== undefined && fileURLToPath(new URL(`file://${process.argv[1]}`)) === SELF) {
  if (role === 'upstream') await runUpstream()
  else if (role === 'relay') await runBareRelay(Number(rest[0]))
  else if (role === 'scope') await runScope(Number(rest[0]), rest[1] === 'json')
  else if (role === 'load') await runLoad(Number(rest[0]), Number(rest[1]), Number(rest[2]))
  else if (role === undefined) await benchGateway()
}
