/**
 * The rule flags on the command line, in-process: `read --rules` as a dry run (summary and JSON),
 * `proxy --block-all` against the lab, help texts and the errors a person must fix.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import type { CliIo } from '../../src/cli/io.js'
import { main } from '../../src/cli/main.js'
import { LabClient } from '../../src/lab/client.js'
import { startLabServer } from '../../src/lab/server.js'
import { LabReplyError } from '../../src/lab/wire.js'

const CAPTURE = new URL('../../captures/msnp-tcp.pcap', import.meta.url).pathname

interface Running { code: Promise<number>; out: () => string; err: () => string; stop: () => void; stderrLine: (re: RegExp) => Promise<RegExpMatchArray> }

function start(args: string[]): Running {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = '', err = ''
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = []
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  stderr.on('data', (c: Buffer) => {
    err += c.toString()
    for (const w of [...waiters]) {
      const m = w.re.exec(err)
      if (m !== null) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m) }
    }
  })
  const stop = new AbortController()
  const io: CliIo = { stdout, stderr, stdin: Readable.from([]), env: { NO_COLOR: '1' }, stopSignal: stop.signal }
  return {
    code: main(args, io), out: () => out, err: () => err, stop: () => stop.abort(),
    stderrLine: (re) => {
      const m = re.exec(err)
      return m !== null ? Promise.resolve(m) : new Promise((resolve) => waiters.push({ re, resolve }))
    },
  }
}

async function rulesDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msnscope-cli-rules-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
  await writeFile(join(dir, 'shout.ts'), `import type { Rule } from 'msnscope'
export default [
  { name: 'shout', match: { verb: 'MSG', text: 'work' }, action: { type: 'rewrite', text: (t: string) => t.toUpperCase() } },
  { name: 'no typing', match: { verb: 'MSG', contentType: 'text/x-msmsgscontrol' }, action: 'block' },
] satisfies Rule[]
`)
  return dir
}

test('read --rules: a dry run in the summary, with what each rule did and the hit counts', async (t) => {
  const dir = await rulesDir(t)
  const r = start(['read', CAPTURE, '--no-tui', '--no-progress', '--rules', join(dir, 'shout.ts')])
  assert.equal(await r.code, 0)
  assert.match(r.out(), /Rules \(dry run: nothing was sent\)\n/)
  assert.match(r.out(), /rewrite by "shout", forwarded as: MSG inguyen81@hotmail\.com \S+ 158\n {6}with the text: "I'M AT WORK, CAN'T TALK MUCH"\n/)
  assert.match(r.out(), /block by "no typing"\n/)
  assert.match(r.out(), /rule:shout +1\n/)
  assert.match(r.out(), /rule:no typing +6\n/)
})

test('read --rules --json: rule, action and the rewritten command on the events, then the counters', async (t) => {
  const dir = await rulesDir(t)
  const r = start(['read', CAPTURE, '--json', '--rules', join(dir, 'shout.ts')])
  assert.equal(await r.code, 0)
  const events = r.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  const shout = events.filter((e) => e.rule === 'shout')
  assert.equal(shout.length, 1)
  assert.equal(shout[0]!.action, 'rewrite')
  const rewritten = shout[0]!.rewritten as { payload: { text: string }; payloadLength: number }
  assert.equal(rewritten.payload.text, "I'M AT WORK, CAN'T TALK MUCH")
  assert.equal(rewritten.payloadLength, shout[0]!.payloadLength)
  assert.equal(events.filter((e) => e.rule === 'no typing' && e.action === 'block').length, 6)
  const last = events.at(-1)!
  assert.equal(last.kind, 'stats')
  assert.deepEqual(last.counters, { 'rule:shout': 1, 'rule:no typing': 6, 'rule-errors': 0, 'rule-timeouts': 0 })
  assert.equal(last.seq, (events.at(-2)!.seq as number) + 1)
})

test('a bad rule file stops the verb with a message naming the file and the rule', async (t) => {
  const dir = await rulesDir(t)
  await writeFile(join(dir, 'bad.yaml'), 'rules:\n  - { name: x, match: { verb: MSG }, action: drop }\n')
  const r = start(['read', CAPTURE, '--json', '--rules', join(dir, 'bad.yaml')])
  assert.equal(await r.code, 1)
  assert.match(r.err(), /^msnscope read: .*bad\.yaml: rule "x" \(#1\): action "drop" is not one of pass, block, reject, close\n$/)
  const p = start(['proxy', '--listen', '127.0.0.1:0', '--json', '--default-action', 'maybe'])
  assert.equal(await p.code, 2)
  assert.match(p.err(), /--default-action: expected pass or block, got "maybe"/)
})

test('the help of proxy and read lists the rule flags', async () => {
  const p = start(['proxy', '--help'])
  assert.equal(await p.code, 0)
  for (const flag of ['--rules FILE', '--policy FILE', '--block-all', '--block-file-transfers', '--block-words FILE', '--rule-timeout TIME', '--default-action ACTION']) assert.ok(p.out().includes(flag), flag)
  const r = start(['read', '--help'])
  assert.equal(await r.code, 0)
  assert.match(r.out(), /--rules FILE/)
})

test('proxy --block-all: the lab client fails its sign-in; the rules and their counters are in the output', async (t) => {
  const lab = await startLabServer({ host: '127.0.0.3' })
  t.after(() => lab.close())
  const r = start(['proxy', '--listen', '127.0.0.1:0', '--upstream', `${lab.ds.host}:${lab.ds.port}`, '--json', '--block-all'])
  t.after(() => r.stop())
  const [, host, port] = await r.stderrLine(/listening on (\S+):(\d+),/)
  assert.match(r.err(), /msnscope proxy: rule --block-all: block-all: Blocks every MSN command/)
  const client = new LabClient({ account: 'alice@example.com', dialect: 15, host: host!, port: Number(port) })
  t.after(() => client.close())
  await assert.rejects(client.login(), LabReplyError)
  r.stop()
  assert.equal(await r.code, 0)
  const events = r.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  const ver = events.find((e) => e.verb === 'VER')!
  assert.equal(ver.action, 'block')
  assert.equal(ver.rule, 'block-all')
  const stats = events.filter((e) => e.kind === 'stats').at(-1)!
  assert.equal((stats.counters as Record<string, number>)['rule:block-all'], 1)
})
