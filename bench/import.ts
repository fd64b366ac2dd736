/**
 * Capture import throughput and memory, beside baselines measured in the same run:
 * - a bare loop over the same file's packets with pcap-parser (no decoding at all);
 * - import to events: reassembly, recognition, decoding and session tracking, no printing
 *   (target: at least a third of the bare loop's speed), as `read` runs it (records read by a
 *   thread of their own) and all in one thread, with CPU time beside wall time; the three take
 *   turns, five runs each, and each keeps its best;
 * - `msnscope read --json` to /dev/null, and `tshark -r FILE -Y msnms -T fields -e frame.number`
 *   when tshark is installed (target: at least 5 times faster than tshark), taking turns, the
 *   best of three runs each;
 * - peak RSS of importing a ~1 GB capture against a ~100 MB one, each in a child process
 *   (target: within 50 MB).
 * The captures are made once into bench/.data/ (gitignored): the 100 MB one by the shared
 * generator, the 1 GB one by repeating it with shifted times and client addresses.
 */
import { spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pcapParser from 'pcap-parser'
import type { importCapture as ImportCapture } from '../src/transport/pcap-import.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const dataDir = path.join(here, '.data')
const generator = path.resolve(root, '..', 'shared', 'tools', 'gen_msnp_pcap.py')
const small = path.join(dataDir, 'import-100m.pcap')
const large = path.join(dataDir, 'import-1g.pcap')
const SMALL_BYTES = 100e6
const COPIES = 10

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1)

/** The 100 MB capture: sessions of every kind (TCP and gateway, reordering and retransmissions). */
function makeSmall(): string | null {
  if (existsSync(small) && statSync(small).size >= SMALL_BYTES) return null
  if (!existsSync(generator)) return `${generator} is absent`
  mkdirSync(dataDir, { recursive: true })
  for (let sessions = 600; sessions < 4000; sessions = Math.ceil(sessions * 1.2)) {
    const r = spawnSync('python3', [generator, '--quiet', '--sessions', String(sessions), '--seed', '7', '--ooo-rate', '0.01', '--retrans-rate', '0.01', '--out', small], { stdio: 'inherit' })
    if (r.status !== 0) return `the generator failed (${r.error?.message ?? `status ${r.status}`})`
    if (statSync(small).size >= SMALL_BYTES) return null
  }
  return 'the generated capture stayed under 100 MB'
}

/** The 1 GB capture: the 100 MB one ten times, each copy later in time and from other client addresses. */
async function makeLarge(): Promise<void> {
  if (existsSync(large) && statSync(large).size >= COPIES * statSync(small).size) return
  const base = readFileSync(small)
  if (base.readUInt32LE(0) !== 0xa1b2c3d4 || base.readUInt32LE(20) !== 1) throw new Error('expected a little-endian Ethernet pcap')
  let first = -1, last = 0
  for (let off = 24; off + 16 <= base.length; off += 16 + base.readUInt32LE(off + 8)) {
    if (first < 0) first = base.readUInt32LE(off)
    last = base.readUInt32LE(off)
  }
  const shift = last - first + 3600
  const out = createWriteStream(large)
  out.write(base.subarray(0, 24))
  for (let k = 0; k < COPIES; k++) {
    const copy = Buffer.from(base)
    for (let off = 24; off + 16 <= copy.length; off += 16 + copy.readUInt32LE(off + 8)) {
      copy.writeUInt32LE(copy.readUInt32LE(off) + k * shift, off)
      const frame = off + 16
      if (copy.readUInt16BE(frame + 12) !== 0x0800) continue
      // clients live in 10.0.0.0/8: each copy moves them to another /8
      for (const at of [frame + 14 + 12, frame + 14 + 16]) if (copy.readUInt8(at) === 10) copy.writeUInt8(10 + k, at)
    }
    if (!out.write(copy.subarray(24))) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

function bareLoop(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let packets = 0
    const p = pcapParser.parse(file)
    p.on('packet', () => { packets++ })
    p.on('error', reject)
    p.on("end", () => { resolve(packets) })
  })
}

/** The import as it ships (dist/), like the CLI it measures beside it. */
let importCapture: typeof ImportCapture | null = null

async function importOnly(file: string, readerThread = true): Promise<{ events: number; packets: number }> {
  if (importCapture === null) {
    const dist = path.join(root, 'dist', 'transport', 'pcap-import.js')
    if (!existsSync(dist)) throw new Error('dist/ is missing: run npm run build first')
    importCapture = ((await import(pathToFileURL(dist).href)) as { importCapture: typeof ImportCapture }).importCapture
  }
  let events = 0
  const r = await importCapture(file, () => { events++ }, { readerThread })
  return { events, packets: r.records }
}

interface Timing<T> { ms: number; cpuMs: number; result: T }

/**
 * Each of `fns` run `runs` times, taking turns, each keeping its best run by wall time and
 * (separately) by CPU time of this process: a burst of interference from elsewhere on the machine
 * then lands on no one measurement alone.
 */
async function bestAlternated<T extends unknown[]>(runs: number, ...fns: { [K in keyof T]: () => Promise<T[K]> }): Promise<{ [K in keyof T]: Timing<T[K]> }> {
  const out = fns.map(() => ({ ms: Infinity, cpuMs: Infinity, result: undefined as unknown }))
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = process.hrtime.bigint()
      const c0 = process.cpuUsage()
      const result = await fn()
      const c = process.cpuUsage(c0)
      const o = out[k]!
      o.ms = Math.min(o.ms, Number(process.hrtime.bigint() - t0) / 1e6)
      o.cpuMs = Math.min(o.cpuMs, (c.user + c.system) / 1000)
      o.result = result
    }
  }
  return out as { [K in keyof T]: Timing<T[K]> }
}

interface Timed { ms: number; cpuMs: number; ok: boolean; err: string }

/** The best wall time and the best CPU time of several runs. */
const bestOf = (runs: Timed[]): { ms: number; cpuMs: number } =>
  ({ ms: Math.min(...runs.map((r) => r.ms)), cpuMs: Math.min(...runs.map((r) => r.cpuMs)) })

/** Wall and CPU time (user + system, from the shell's `times`) of a command, its output thrown away. */
function timed(cmd: string, args: string[]): Timed {
  const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  const t0 = process.hrtime.bigint()
  const r = spawnSync('bash', ['-c', `${quoted} > /dev/null; s=$?; times; exit $s`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  // the second line of `times` is the children's user and system time: 0m1.234s 0m0.056s
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(r.stdout.trim())
  const cpuMs = m === null ? Number.NaN : (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000
  return { ms, cpuMs, ok: r.status === 0, err: r.error?.message ?? r.stderr.slice(0, 300) }
}

/** The built command (dist/, as installed) when it is at least as new as the sources, else the sources through tsx. */
function builtCli(): { args: string[]; what: string } {
  const built = path.join(root, 'dist', 'cli', 'main.js')
  const newest = Math.max(...['src/transport/pcap-import.ts', 'src/transport/capture-pipeline.ts', 'src/pcap/tcp.ts', 'src/cli/read.ts'].map((f) => statSync(path.join(root, f)).mtimeMs))
  const module = path.join(root, 'dist', 'transport', 'pcap-import.js')
  if (existsSync(built) && existsSync(module) && statSync(module).mtimeMs >= newest) return { args: [built], what: 'built CLI' }
  return { args: ['--import', 'tsx', 'src/cli/main.ts'], what: 'sources through tsx; npm run build first for the built CLI' }
}

/** Peak RSS of an import run in a child process of its own. */
function childRss(file: string): { rssMb: number; ms: number; events: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--rss', file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 })
  if (r.status !== 0) throw new Error(`RSS child failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rssMb: number; ms: number; events: number }
}

export async function benchImport(): Promise<void> {
  const why = makeSmall()
  if (why !== null) { console.log(`import: skipped (${why})`); return }
  await makeLarge()
  const size = statSync(small).size
  const line = (name: string, ms: number, note = ''): void => {
    console.log(`${name.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(7)} s ${(size / 1e6 / (ms / 1000)).toFixed(1).padStart(8)} MB/s  ${note}`)
  }
  console.log(`capture: ${path.relative(root, small)}, ${mb(size)} MB`)
  await importOnly(path.join(root, 'captures', 'msnp-tcp.pcap')) // warm up
  const [bare, imp, one] = await bestAlternated<[number, { events: number; packets: number }, { events: number; packets: number }]>(5,
    () => bareLoop(small), () => importOnly(small), () => importOnly(small, false))
  line('bare pcap-parser loop (no decoding)', bare.ms, `CPU ${(bare.cpuMs / 1000).toFixed(2)} s; ${bare.result} packets`)
  line('import to events (no printing)', imp.ms, `CPU ${(imp.cpuMs / 1000).toFixed(2)} s; ${imp.result.events} events; ${(bare.ms / imp.ms).toFixed(2)} of the bare loop's speed in wall time, ${(bare.cpuMs / imp.cpuMs).toFixed(2)} in CPU time (target >= 0.33)`)
  // the same without the reader thread: everything on one core
  line('  the same in one thread', one.ms, `CPU ${(one.cpuMs / 1000).toFixed(2)} s; ${(bare.ms / one.ms).toFixed(2)} of the bare loop's speed in wall time`)
  const cli = builtCli()
  const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' })
  const withTshark = hasTshark.error === undefined && hasTshark.status === 0
  // read --json and tshark take turns too, three runs each
  const jsonRuns: Timed[] = []
  const tsharkRuns: Timed[] = []
  for (let i = 0; i < 3; i++) {
    const j = timed(process.execPath, [...cli.args, 'read', small, '--json'])
    if (!j.ok) throw new Error(`read --json failed: ${j.err}`)
    jsonRuns.push(j)
    if (withTshark) tsharkRuns.push(timed('tshark', ['-r', small, '-Y', 'msnms', '-T', 'fields', '-e', 'frame.number']))
  }
  const json = bestOf(jsonRuns)
  line('msnscope read --json > /dev/null', json.ms, `CPU ${(json.cpuMs / 1000).toFixed(2)} s (${cli.what}; best of 3)`)
  const failed = tsharkRuns.find((t) => !t.ok)
  if (!withTshark) console.log('tshark: not installed, column skipped')
  else if (failed !== undefined) console.log(`tshark failed: ${failed.err}`)
  else {
    const t = bestOf(tsharkRuns)
    line('tshark -Y msnms -T fields -e frame.number', t.ms, `CPU ${(t.cpuMs / 1000).toFixed(2)} s (best of 3); read --json is ${(t.ms / json.ms).toFixed(1)}x faster in wall time, ${(t.cpuMs / json.cpuMs).toFixed(1)}x in CPU time (target >= 5)`)
  }
  const a = childRss(small)
  const b = childRss(large)
  console.log(`peak RSS importing ${mb(size)} MB: ${a.rssMb.toFixed(0)} MB; ${mb(statSync(large).size)} MB: ${b.rssMb.toFixed(0)} MB (difference ${(b.rssMb - a.rssMb).toFixed(0)} MB, target <= 50); 1 GB import took ${(b.ms / 1000).toFixed(1)} s, ${b.events} events`)
}

async function rssChild(file: string): Promise<void> {
  const t0 = process.hrtime.bigint()
  const { events } = await importOnly(file)
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  console.log(JSON.stringify({ rssMb: process.resourceUsage().maxRSS / 1024, ms, events }))
}

if (process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  const i = process.argv.indexOf('--rss')
  if (i >= 0 && process.argv[i + 1] !== undefined) await rssChild(process.argv[i + 1]!)
  else await benchImport()
}
