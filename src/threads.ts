/**
 * Worker threads of msnscope's own modules (the capture reader, the JSON line writer). From the
 * compiled package a worker loads the .js beside its caller; run from the TypeScript sources (the
 * tests), it registers tsx first, since a worker does not inherit the loader of its parent.
 */
import { Worker } from 'node:worker_threads'

/** A worker running the module `name` (without extension) that sits beside `callerUrl`. */
export function startModuleWorker(name: string, callerUrl: string, workerData: unknown): Worker {
  const fromSource = callerUrl.endsWith('.ts')
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl)
  if (!fromSource) return new Worker(url, { workerData })
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { eval: true, workerData })
}
