/**
 * Worker threads of msnscope's own modules (the capture reader, the JSON line writer). From the
 * compiled package a worker loads the .js beside its caller, without the loaders the process was
 * started with (they cost each thread its start-up time and are not needed); run from the
 * TypeScript sources (the tests), it registers tsx first, since a worker does not get the loader
 * of its parent.
 */
import { Worker } from 'node:worker_threads'

/** Options that load code into every thread: a compiled worker needs none of them. */
const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r'])

/** The parent's options without the loaders (`--import tsx`, an APM's `--require`…). */
function workerExecArgv(): string[] {
  const out: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    if (LOADER_FLAGS.has(eq < 0 ? a : a.slice(0, eq))) { if (eq < 0) i++; continue }
    out.push(a)
  }
  return out
}

/** A worker running the module `name` (without extension) that sits beside `callerUrl`. */
export function startModuleWorker(name: string, callerUrl: string, workerData: unknown): Worker {
  const fromSource = callerUrl.endsWith('.ts')
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl)
  if (!fromSource) {
    try {
      return new Worker(url, { workerData, execArgv: workerExecArgv() })
    } catch (err) {
      // process-wide options (V8 heap sizes, --title…) are refused in a thread's own list; the
      // thread runs under them anyway, since they apply to the whole process
      if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err
      return new Worker(url, { workerData, execArgv: [] })
    }
  }
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { eval: true, workerData })
}
