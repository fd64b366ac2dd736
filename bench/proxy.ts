/**
 * Proxy throughput and latency for 1, 10 and 100 connections: the same closed-loop load sent
 * directly to the upstream, through a bare Node socket pipe, and through `msnscope proxy --json`
 * (events to /dev/null), each relay in its own process, the load generator in another. CPU per
 * round trip is read from /proc for the relay processes. Each figure is the median of several
 * runs, the three paths taking turns, so that a burst of other load on the machine falls on one
 * run rather than on one path.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))
const TSX = ['--import', 'tsx']
const SECONDS = Number(process.env.BENCH_PROXY_SECONDS ?? 3)
/** runs per path and connection count; the figures are medians */
const RUNS = Number(process.env.BENCH_PROXY_RUNS ?? 3)
/** connection counts to run, e.g. BENCH_PROXY_CONNS=100 (default 1,10,100) */
const CONNS = (process.env.BENCH_PROXY_CONNS ?? '1,10,100').split(',').map(Number)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function start(args: string[], stdout: 'pipe' | 'ignore' = 'pipe'): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, args, { stdio: ['pipe', stdout, 'inherit'] })
  const firstLine = stdout === 'pipe'
    ? new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve)
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)))
    })
    : Promise.resolve('')
  return { child, firstLine }
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10 // utime + stime, in clock ticks of 10 ms
}

async function load(port: number, connections: number): Promise<{ roundTrips: number; rtPerSec: number; mbPerSec: number; p50ms: number; p99ms: number }> {
  const { child, firstLine } = start([...TSX, here('./load.ts'), String(port), String(connections), String(SECONDS)])
  const line = await firstLine
  child.kill()
  return JSON.parse(line)
}

async function freePort(): Promise<number> {
  const net = await import('node:net')
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as import('node:net').AddressInfo).port; s.close(() => resolve(p)) })
  })
}

export async function benchProxy(): Promise<void> {
  const cli = here('../dist/cli/main.js')
  if (!existsSync(cli)) throw new Error('dist/ is missing: run npm run build first')
  const responder = start([...TSX, here('./responder.ts')])
  const upstream = Number(await responder.firstLine)
  const pipe = start([...TSX, here('./pipe.ts'), String(upstream)])
  const pipePort = Number(await pipe.firstLine)
  const proxyPort = await freePort()
  const proxy = spawn(process.execPath, [cli, 'proxy', '--json', '--listen', `127.0.0.1:${proxyPort}`, '--upstream', `127.0.0.1:${upstream}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  await new Promise<void>((resolve) => createInterface({ input: proxy.stderr! }).once('line', () => resolve()))
  try {
    console.log(`proxy: closed-loop round trips, ${SECONDS}s per run, median of ${RUNS} runs (direct, pipe and msnscope alternated); mix: 50% MSG 100-1500 B (ack A), PNG, CHG, CAL`)
    console.log('conns  path     rt/s      MB/s   p50 ms  p99 ms  relay CPU µs/rt')
    type Run = Awaited<ReturnType<typeof load>> & { cpu: number | null }
    const paths: [string, number, number | null][] = [['direct', upstream, null], ['pipe', pipePort, pipe.child.pid!], ['msnscope', proxyPort, proxy.pid!]]
    for (const conns of CONNS) {
      const runs = new Map<string, Run[]>(paths.map(([name]) => [name, []]))
      for (let i = 0; i < RUNS; i++) {
        // every other round in reverse order, so that no path always runs first
        for (const [name, port, pid] of i % 2 === 0 ? paths : [...paths].reverse()) {
          const c0 = pid === null ? 0 : cpuMs(pid)
          const r = await load(port, conns)
          runs.get(name)!.push({ ...r, cpu: pid === null ? null : ((cpuMs(pid) - c0) * 1000) / r.roundTrips })
        }
      }
      const row = (name: string): { rtPerSec: number; mbPerSec: number; p50ms: number; p99ms: number; cpu: number | null } => {
        const rs = runs.get(name)!
        const cpus = rs.map((r) => r.cpu).filter((c): c is number => c !== null)
        return {
          rtPerSec: median(rs.map((r) => r.rtPerSec)), mbPerSec: median(rs.map((r) => r.mbPerSec)),
          p50ms: median(rs.map((r) => r.p50ms)), p99ms: median(rs.map((r) => r.p99ms)), cpu: cpus.length > 0 ? median(cpus) : null,
        }
      }
      for (const [name] of paths) {
        const r = row(name)
        const cpuText = r.cpu === null ? '' : `${r.cpu.toFixed(1).padStart(8)}${RUNS > 1 ? `  [${runs.get(name)!.map((x) => x.cpu!.toFixed(0)).join(' ')}]` : ''}`
        console.log(`${String(conns).padStart(5)}  ${name.padEnd(8)} ${r.rtPerSec.toFixed(0).padStart(7)}  ${r.mbPerSec.toFixed(2).padStart(7)}  ${r.p50ms.toFixed(3).padStart(6)}  ${r.p99ms.toFixed(3).padStart(6)}  ${cpuText}`)
      }
      // ratios and differences per round, then their median: the paths of one round ran back to back
      const ratio = median(runs.get('msnscope')!.map((r, i) => r.rtPerSec / runs.get('pipe')![i]!.rtPerSec))
      const addedCpu = median(runs.get('msnscope')!.map((r, i) => r.cpu! - runs.get('pipe')![i]!.cpu!))
      const added = median(runs.get('msnscope')!.map((r, i) => r.p99ms - runs.get('direct')![i]!.p99ms))
      const addedPipe = median(runs.get('msnscope')!.map((r, i) => r.p99ms - runs.get('pipe')![i]!.p99ms))
      console.log(`       msnscope/pipe throughput ${(ratio * 100).toFixed(1)}% (target >= 80%); added CPU ${addedCpu.toFixed(1)} µs/rt (target <= 30); p99 added: ${(added * 1000).toFixed(0)} µs vs direct, ${(addedPipe * 1000).toFixed(0)} µs vs the bare pipe (target < 1000 µs at 100 connections)`)
    }
  } finally {
    proxy.kill()
    pipe.child.kill()
    responder.child.kill()
  }
}
