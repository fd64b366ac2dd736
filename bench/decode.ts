/**
 * Decode throughput: the full decoder (framing, fields and payloads decoded eagerly, as --json
 * needs them) against the bare baseline of splitting the same bytes on CRLF, in the same run.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { MsnpDecoder as Decoder } from '../src/protocol/decoder.js'
import { generateStream } from './traffic.js'

/** The benchmark measures the compiled code that ships (dist/), not the test-time transpilation. */
async function loadDecoder(): Promise<typeof Decoder> {
  const dist = new URL('../dist/protocol/decoder.js', import.meta.url)
  if (!existsSync(fileURLToPath(dist))) throw new Error('dist/ is missing: run npm run build first')
  return ((await import(dist.href)) as { MsnpDecoder: typeof Decoder }).MsnpDecoder
}

const CHUNK = 64 * 1024

function bareSplit(data: Buffer): number {
  let lines = 0
  for (let at = 0; at < data.length; at += CHUNK) {
    const chunk = data.subarray(at, at + CHUNK)
    let i = chunk.indexOf('\r\n')
    while (i >= 0) { lines++; i = chunk.indexOf('\r\n', i + 2) }
  }
  return lines
}

function decodeAll(MsnpDecoder: typeof Decoder, from: 'client' | 'server', data: Buffer): number {
  const d = new MsnpDecoder(from)
  let commands = 0
  for (let at = 0; at < data.length; at += CHUNK) {
    for (const e of d.push(data.subarray(at, at + CHUNK))) if (e.kind === 'command') commands++
  }
  return commands
}

/**
 * The best of `runs` timed runs of each function, run in turn (a, b, a, b, ...), so that both
 * meet the same conditions on a shared machine, where throughput drifts between runs.
 */
function bestAlternated(runs: number, a: () => number, b: () => number): [{ ms: number; result: number }, { ms: number; result: number }] {
  const out = [{ ms: Infinity, result: 0 }, { ms: Infinity, result: 0 }] as [{ ms: number; result: number }, { ms: number; result: number }]
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of [a, b].entries()) {
      const t0 = process.hrtime.bigint()
      const result = fn()
      const t = Number(process.hrtime.bigint() - t0) / 1e6
      if (t < out[k]!.ms) out[k] = { ms: t, result }
    }
  }
  return out
}

export async function benchDecode(sizeMb = 60): Promise<Record<string, number>> {
  const half = Math.ceil((sizeMb * 1024 * 1024) / 2)
  const server = generateStream('server', half, 7)
  const client = generateStream('client', half, 11)
  const bytes = server.data.length + client.data.length
  const commands = server.commands + client.commands
  const MsnpDecoder = await loadDecoder()
  const [base, full] = bestAlternated(5, () => bareSplit(server.data) + bareSplit(client.data), () => decodeAll(MsnpDecoder, 'server', server.data) + decodeAll(MsnpDecoder, 'client', client.data))
  if (full.result !== commands) throw new Error(`decoder found ${full.result} commands, generator wrote ${commands}`)
  const mb = bytes / 1024 / 1024
  const out = {
    mb, commands,
    decodeMBps: mb / (full.ms / 1000), decodeCmdPerSec: commands / (full.ms / 1000),
    splitMBps: mb / (base.ms / 1000), ratio: base.ms / full.ms,
  }
  console.log(`decode: ${mb.toFixed(1)} MB, ${commands} commands (${(bytes / commands).toFixed(0)} B/command avg)`)
  console.log(`  msnscope decoder  ${out.decodeMBps.toFixed(1)} MB/s  ${(out.decodeCmdPerSec / 1e6).toFixed(2)} M commands/s`)
  console.log(`  bare CRLF split   ${out.splitMBps.toFixed(1)} MB/s  (baseline, same bytes, same run)`)
  console.log(`  ratio decoder/split ${out.ratio.toFixed(3)}  (target >= 0.25; commands/s target >= 1,000,000)`)
  return out
}
