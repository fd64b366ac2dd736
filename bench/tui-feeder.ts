/**
 * The process bench/tui.ts runs in a pseudo-terminal: opens the real dashboard on its terminal and
 * feeds it decoded MSNP events at a fixed rate (bench/tui-traffic.ts), then writes its figures as
 * JSON and waits for the user (or the bench) to quit.
 *
 *   node --import tsx bench/tui-feeder.ts --rate 10000 --seconds 30 --stats out.json [--memory-cap 300M]
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { openDashboard, parseMemoryCap } from '../src/tui/app.js'
import { eventFactory } from './tui-traffic.js'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '30' }, stats: { type: 'string' }, 'memory-cap': { type: 'string', default: '300M' } } })
  const rate = Number(values.rate)
  const seconds = Number(values.seconds)
  const total = rate * seconds
  const cap = parseMemoryCap(values['memory-cap'])
  const controller = new AbortController()
  const dash = openDashboard({ io: { stdin: process.stdin, stdout: process.stdout, env: process.env, stopSignal: controller.signal }, title: `bench ${rate}/s for ${seconds}s`, memoryCap: cap })
  process.on('SIGTERM', () => controller.abort())
  const next = eventFactory()
  let fed = 0
  let peakRss = 0
  const started = Date.now()
  const lag: number[] = []
  await new Promise<void>((resolve) => {
    const step = (): void => {
      if (dash.isClosed) { resolve(); return }
      const now = Date.now()
      const due = Math.min(total, Math.floor(((now - started) / 1000) * rate))
      // a live source hands over events a socket read at a time, not thousands at once
      let turn = 0
      while (fed < due && turn < 500) { dash.push(next()); fed++; turn++ }
      if (fed < due) { setImmediate(step); return }
      const rss = process.memoryUsage.rss()
      if (rss > peakRss) peakRss = rss
      if (fed >= total) { resolve(); return }
      const t = Date.now()
      setTimeout(() => { lag.push(Date.now() - t); step() }, 5)
    }
    step()
  })
  const feedSeconds = (Date.now() - started) / 1000
  dash.end()
  // let the last frame show the final count
  await new Promise((r) => setTimeout(r, 300))
  const s = dash.stats()
  const maxRss = process.resourceUsage().maxRSS * 1024
  const figures = {
    rate, seconds, fed, feedSeconds, counted: s.events, frames: s.frames, fps: s.frames / feedSeconds,
    peakRss: Math.max(peakRss, s.peakRss, maxRss), memoryCap: cap, inMemory: s.inMemory, spilledBytes: s.spilledBytes, collections: s.collections, drawMsAvg: s.drawMsAvg, drawMsMax: s.drawMsMax, cpuSeconds: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    maxTimerLagMs: Math.max(0, ...lag), heapUsed: process.memoryUsage().heapUsed, rssAtEnd: process.memoryUsage.rss(),
  }
  if (values.stats !== undefined) writeFileSync(values.stats, JSON.stringify(figures))
  await dash.closed
}

main().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exitCode = 1 })
