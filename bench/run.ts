/**
 * `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the
 * same run. `npm run bench -- decode proxy` runs only those.
 */
import { execFileSync } from 'node:child_process'

const only = new Set(process.argv.slice(2))
// benchmarks measure the compiled code that ships
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit', cwd: new URL('..', import.meta.url) })
const want = (name: string): boolean => only.size === 0 || only.has(name)

type Bench = [name: string, load: () => Promise<() => Promise<unknown>>]
const BENCHES: Bench[] = [
  ['decode', async () => (await import('./decode.js')).benchDecode],
  ['import', async () => (await import('./import.js')).benchImport],
  ['proxy', async () => (await import('./proxy.js')).benchProxy],
  ['gateway', async () => (await import('./gateway.js')).benchGateway],
  ['tui', async () => (await import('./tui.js')).benchTui],
]

let failed = false
for (const [name, load] of BENCHES) {
  if (!want(name)) continue
  let fn: () => Promise<unknown>
  try { fn = await load() } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(`bench/${name}`)) continue
    throw err
  }
  console.log(`\n### ${name}`)
  try { await fn() } catch (err) { failed = true; console.log(`${name}: failed: ${(err as Error).stack ?? String(err)}`) }
}
process.exitCode = failed ? 1 : 0
