/**
 * Proxy throughput and latency for 1, 10 and 100 connections: the same closed-loop load sent
 * directly to the upstream, through a bare Node socket pipe, and through `msnscope proxy --json`
 * (events to /dev/null), each relay in its own process, the load generator in another. CPU per
 * round trip is read from /proc for the relay processes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))
const TSX = ['--import', 'tsx']
const SECONDS = Number(process.env.BENCH_PROXY_SECONDS ?? 3)

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
    console.log(`proxy: closed-loop round trips, ${SECONDS}s per run; mix: 50% MSG 100-1500 B (ack A), PNG, CHG, CAL`)
    console.log('conns  path     rt/s      MB/s   p50 ms  p99 ms  relay CPU µs/rt')
    for (const conns of [1, 10, 100]) {
      const rows: [string, Awaited<ReturnType<typeof load>>, number | null][] = []
      rows.push(['direct', await load(upstream, conns), null])
      let c0 = cpuMs(pipe.child.pid!)
      const viaPipe = await load(pipePort, conns)
      rows.push(['pipe', viaPipe, ((cpuMs(pipe.child.pid!) - c0) * 1000) / viaPipe.roundTrips])
      c0 = cpuMs(proxy.pid!)
      const viaProxy = await load(proxyPort, conns)
      rows.push(['msnscope', viaProxy, ((cpuMs(proxy.pid!) - c0) * 1000) / viaProxy.roundTrips])
      for (const [name, r, cpu] of rows) {
        console.log(`${String(conns).padStart(5)}  ${name.padEnd(8)} ${r.rtPerSec.toFixed(0).padStart(7)}  ${r.mbPerSec.toFixed(2).padStart(7)}  ${r.p50ms.toFixed(3).padStart(6)}  ${r.p99ms.toFixed(3).padStart(6)}  ${cpu === null ? '' : cpu.toFixed(1).padStart(8)}`)
      }
      const ratio = viaProxy.rtPerSec / viaPipe.rtPerSec
      const added = viaProxy.p99ms - rows[0]![1].p99ms
      const addedPipe = viaProxy.p99ms - viaPipe.p99ms
      console.log(`       msnscope/pipe throughput ${(ratio * 100).toFixed(1)}% (target >= 80%); p99 added: ${(added * 1000).toFixed(0)} µs vs direct, ${(addedPipe * 1000).toFixed(0)} µs vs the bare pipe (target < 1000 µs at 100 connections)`)
    }
  } finally {
    proxy.kill()
    pipe.child.kill()
    responder.child.kill()
  }
}
