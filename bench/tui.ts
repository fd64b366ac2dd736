/**
 * The dashboard under load: 10,000 events per second for 30 seconds into the real dashboard on a
 * pseudo-terminal (tmux). Checks that the status line counts every event and that the process
 * stays under its memory cap, and measures the frame rate and how fast a key shows on screen
 * while traffic flows. The feeder runs as plain JavaScript (bundled with esbuild), as msnscope
 * itself runs from dist/, so the figures do not include a TypeScript loader's own memory.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface TuiBenchOptions {
  rate?: number
  seconds?: number
  memoryCapMb?: number
}

interface Figures {
  fed: number; counted: number; feedSeconds: number; frames: number; fps: number
  peakRss: number; memoryCap: number; spilledBytes: number; collections: number; maxTimerLagMs: number
  drawMsAvg: number; drawMsMax: number; cpuSeconds: number
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function bundleFeeder(): Promise<string> {
  const outDir = join(ROOT, 'node_modules', '.cache', 'msnscope-bench')
  mkdirSync(outDir, { recursive: true })
  const outfile = join(outDir, 'tui-feeder.mjs')
  const esbuild = await import('esbuild')
  await esbuild.build({
    entryPoints: [join(ROOT, 'bench', 'tui-feeder.ts')], outfile, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', packages: 'external', logLevel: 'error',
  })
  return outfile
}

export async function benchTui(options: TuiBenchOptions = {}): Promise<Figures & { statusCount: number; keyLatencyMs: number[] }> {
  const rate = options.rate ?? 10_000
  const seconds = options.seconds ?? 30
  const capMb = options.memoryCapMb ?? 300
  const feeder = await bundleFeeder()
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-bench-tui-'))
  const stats = join(dir, 'stats.json')
  const socket = `msnscope-bench-${process.pid}`
  const tmux = (...args: string[]): string => {
    const r = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
    if (r.status !== 0 && args[0] !== 'kill-server') throw new Error(`tmux ${args[0]}: ${r.stderr.trim()}`)
    return r.stdout
  }
  const command = `cd ${JSON.stringify(ROOT)} && LANG=C.UTF-8 exec node ${JSON.stringify(feeder)} --rate ${rate} --seconds ${seconds} --memory-cap ${capMb}M --stats ${JSON.stringify(stats)} 2>${JSON.stringify(join(dir, 'stderr'))}`
  tmux('new-session', '-d', '-s', 'bench', '-x', '160', '-y', '45', command)
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'bench')
  const statusCount = (text: string): number | null => {
    const m = /([\d,]+) events · /.exec(text)
    return m === null ? null : Number(m[1]!.replace(/,/g, ''))
  }
  try {
    const started = Date.now()
    const deadline = started + (seconds + 90) * 1000
    const keyLatencyMs: number[] = []
    let probes = 0
    let last: number | null = null
    while (Date.now() < deadline) {
      const text = screen()
      last = statusCount(text) ?? last
      // while traffic flows, open and close the help screen and time how long each takes to show
      const elapsed = (Date.now() - started) / 1000
      if (!existsSync(stats) && probes < 4 && elapsed > 5 + probes * 5 && last !== null && last > 0) {
        probes++
        for (const [key, shown] of [['?', true], ['q', false]] as const) {
          const t0 = Date.now()
          tmux('send-keys', '-t', 'bench', key)
          while (Date.now() - t0 < 10_000 && /Filters {2}\(as in mitmproxy/.test(screen()) !== shown) await sleep(20)
          keyLatencyMs.push(Date.now() - t0)
        }
      }
      if (existsSync(stats) && last !== null) {
        const figures = JSON.parse(readFileSync(stats, 'utf8')) as Figures
        if (last >= figures.fed) {
          const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`
          console.log(`tui: ${rate.toLocaleString('en-US')} events/s for ${seconds} s into the dashboard on a 160x45 pseudo-terminal`)
          console.log(`  events fed              ${figures.fed.toLocaleString('en-US')} in ${figures.feedSeconds.toFixed(1)} s`)
          console.log(`  counted on status line  ${last.toLocaleString('en-US')}${last === figures.fed ? ' (all)' : ' (MISMATCH)'}`)
          console.log(`  peak RSS                ${mb(figures.peakRss)} (cap ${mb(figures.memoryCap)}; ${figures.collections} forced collections)`)
          console.log(`  spilled to disk         ${mb(figures.spilledBytes)}`)
          console.log(`  frame rate              ${figures.fps.toFixed(1)} frames/s (${figures.frames} frames; drawing one takes ${figures.drawMsAvg.toFixed(1)} ms on average, ${figures.drawMsMax.toFixed(0)} ms at most)`)
          console.log(`  CPU                     ${figures.cpuSeconds.toFixed(1)} s for ${figures.feedSeconds.toFixed(1)} s of traffic, generating the events included`)
          console.log(`  key to screen           ${keyLatencyMs.length > 0 ? `${Math.max(...keyLatencyMs)} ms worst of ${keyLatencyMs.length} (median ${median(keyLatencyMs)} ms), incl. tmux polling` : 'not measured'}`)
          console.log(`  feeder timer lag        ${figures.maxTimerLagMs} ms worst`)
          if (last !== figures.fed) throw new Error(`status line counted ${last} events, ${figures.fed} were fed`)
          if (figures.peakRss > figures.memoryCap) throw new Error(`peak RSS ${mb(figures.peakRss)} above the cap ${mb(figures.memoryCap)}`)
          tmux('send-keys', '-t', 'bench', 'Q')
          return { ...figures, statusCount: last, keyLatencyMs }
        }
      }
      await sleep(250)
    }
    const err = existsSync(join(dir, 'stderr')) ? readFileSync(join(dir, 'stderr'), 'utf8') : ''
    throw new Error(`the dashboard did not count all events in time (last count ${last}); ${err.slice(0, 500)}`)
  } finally {
    tmux('kill-server')
    rmSync(dir, { recursive: true, force: true })
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const seconds = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined
  benchTui(seconds !== undefined ? { seconds } : {}).catch((err: unknown) => { console.error(err); process.exitCode = 1 })
}
