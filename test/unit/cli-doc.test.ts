import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli/main.js'

async function help(args: string[]): Promise<string> {
  const stdout = new PassThrough()
  let text = ''
  stdout.on('data', (b: Buffer) => { text += b.toString() })
  await main(args, { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: {}, stopSignal: new AbortController().signal })
  return text
}

test('docs/cli.md holds the --help of every verb, as the CLI prints it today', async () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/cli.md', import.meta.url)), 'utf8')
  for (const verb of ['demo', 'proxy', 'read', 'decode', 'transcript', 'replay', 'serve']) {
    const text = await help([verb, '--help'])
    assert.ok(text.startsWith(`Usage: msnscope ${verb}`), verb)
    assert.ok(doc.includes(text), `docs/cli.md is out of date for ${verb}: run npm run build && node scripts/cli-doc.mjs`)
  }
  assert.ok(doc.includes(await help(['--help'])))
})
