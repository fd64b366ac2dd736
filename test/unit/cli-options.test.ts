import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openFileWarning } from '../../src/cli/options.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

test('the open-file limit is checked against --max-connections: two descriptors per client, plus some', () => {
  assert.equal(openFileWarning(1000, 4096), null)
  assert.equal(openFileWarning(1000, 2064), null)
  assert.equal(openFileWarning(1000, null), null, 'an unknown or unlimited limit is not warned about')
  const w = openFileWarning(1000, 1024)
  assert.ok(w !== null)
  assert.match(w, /open-file limit \(1024\) is below what --max-connections 1000 needs \(about 2064/)
  assert.match(w, /beyond about 480 clients/)
  assert.match(w, /ulimit -n 2064/)
  assert.equal(openFileWarning(100, 1024), null)
})

test('proxy warns at start when the system would turn clients away before msnscope sees them', { skip: !existsSync('/proc/self/limits') && 'no /proc here' }, async () => {
  // ulimit -n sets the hard limit too, so Node cannot raise it at start
  const child = spawn('bash', ['-c', `ulimit -n 512 && exec "${process.execPath}" --import tsx src/cli/main.ts proxy --json --listen 127.0.0.1:0 --upstream 127.0.0.1:1 --max-connections 1000`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString()
      if (err.includes('listening on')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`exited (${code}): ${err}`)))
  })
  child.kill('SIGINT')
  assert.match(err, /msnscope proxy: warning: the open-file limit \(512\) is below what --max-connections 1000 needs/)
})
