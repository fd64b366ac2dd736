/**
 * `msnscope serve` and `msnscope replay` run in-process: a capture served and replayed through
 * the command line, a dry run with redacted credentials, and the exit status of a replay the
 * server refuses.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PassThrough, Readable } from 'node:stream'
import { main } from '../../src/cli/main.js'
import type { CliIo } from '../../src/cli/io.js'
import { HOST, lab, recordLabSession } from '../helpers/replay-recording.js'

interface Running { code: Promise<number>; out: () => string; err: () => string; stop: () => void; errLine: (re: RegExp) => Promise<RegExpExecArray> }

function start(args: string[]): Running {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = '', err = ''
  const waiters: (() => void)[] = []
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  stderr.on('data', (c: Buffer) => { err += c.toString(); for (const w of waiters.splice(0)) w() })
  const abort = new AbortController()
  const io: CliIo = { stdout, stderr, stdin: Readable.from([]), env: { NO_COLOR: '1' }, stopSignal: abort.signal }
  const code = main(args, io)
  const errLine = async (re: RegExp): Promise<RegExpExecArray> => {
    for (;;) {
      const m = re.exec(err)
      if (m !== null) return m
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { code, out: () => out, err: () => err, stop: () => abort.abort(), errLine }
}

const PPA = fileURLToPath(new URL('../../../shared/captures/ppa-msnms.pcap', import.meta.url))
const noShared = existsSync(PPA) ? false : 'needs ../shared/captures/ppa-msnms.pcap'

test('serve and replay from the command line: ppa-msnms.pcap completes with no differences', { skip: noShared }, async () => {
  const serve = start(['serve', PPA, '--listen', `${HOST}:0`, '--json'])
  const m = await serve.errLine(/listening on ([\d.]+):(\d+)/)
  const replay = start(['replay', PPA, '--to', `${m[1]}:${m[2]}`])
  assert.equal(await replay.code, 0, replay.err())
  assert.equal(replay.out(), '')
  assert.match(replay.err(), /completed\n {2}c1 → c1: sent 14, received 11\n {2}0 differences\n$/)
  serve.stop()
  assert.equal(await serve.code, 0)
  const served = serve.out().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; from?: string; trId?: number })
  assert.deepEqual(served.filter((e) => e.kind === 'command' && e.from === 'client').map((e) => e.trId), Array.from({ length: 14 }, (_, i) => i + 1))
  assert.equal(served.filter((e) => e.kind === 'unmatched').length, 0)
})

test('replay --dry-run --json: planned TrIDs, challenges answered afresh, credentials redacted', async (t) => {
  const { file } = await recordLabSession(t, 7, 'tr0ub4dor')
  const r = start(['replay', file, '--to', '192.0.2.1:1863', '--dry-run', '--json', '--password', 'alice@example.com=hunter2', '--password', 'opensesame'])
  assert.equal(await r.code, 0, r.err())
  const lines = r.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.doesNotMatch(r.out(), /hunter2|opensesame/)
  const conns = lines.filter((l) => l.kind === 'plan-connection')
  assert.deepEqual(conns.map((c) => c.opens), [
    'connects to 192.0.2.1:1863', 'connects where the live XFR NS on c1 points',
    'connects to 192.0.2.1:1863', 'connects where the live XFR NS on c3 points',
    'connects where the live XFR SB on c2 points', 'connects where the live RNG on c4 points',
  ])
  const cmds = lines.filter((l) => l.kind === 'plan-command')
  assert.deepEqual(cmds.filter((c) => c.conn === 'c2').map((c) => c.trId), [1, 2, 3, 4, 5, 6, 7, 8, null])
  const login = cmds.filter((c) => c.afresh === 'login')
  assert.deepEqual(login.map((c) => [c.conn, c.line]), [['c2', 'USR 4 MD5 S ***'], ['c4', 'USR 4 MD5 S ***']])
  assert.match(String(login[0]!.note), /password of alice@example\.com \(hu\*\*\*\)/)
  assert.match(String(login[1]!.note), /password of bob@example\.net \(op\*\*\*\)/)
  const qry = cmds.filter((c) => c.afresh === 'challenge')
  assert.equal(qry.length, 2)
  assert.match(String(qry[0]!.note), /MD5 rule, product id msmsgs@msnmsgr\.com/)
  assert.deepEqual(cmds.filter((c) => c.afresh === 'cookie').map((c) => c.verb), ['USR', 'ANS'])
  // one global order of steps across all connections
  const steps = cmds.map((c) => Number(c.step)).sort((a, b) => a - b)
  assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1))
})

test('replay exits 1 and names the difference when the server refuses the login', async (t) => {
  const { file } = await recordLabSession(t, 7, 'tr0ub4dor')
  const server = await lab(t, { password: 'another one' })
  const r = start(['replay', file, '--to', `${HOST}:${server.ds.port}`, '--password', 'tr0ub4dor'])
  assert.equal(await r.code, 1)
  assert.match(r.out(), /error 911 .* instead of USR 4 OK alice@example\.com/)
  assert.match(r.err(), /not completed: error 911/)
  assert.doesNotMatch(r.out() + r.err(), /tr0ub4dor/)
})

test('replay and serve refuse bad options with exit status 2', async () => {
  assert.equal(await start(['replay', 'x.pcap']).code, 2)
  assert.equal(await start(['replay', 'x.pcap', '--to', '127.0.0.1:1', '--speed', 'warp']).code, 2)
  assert.equal(await start(['serve', 'x.pcap', '--unmatched', 'shrug']).code, 2)
})

test('serve --dry-run lists the recorded connections with the replies each command gets', { skip: noShared }, async () => {
  const r = start(['serve', PPA, '--dry-run', '--json'])
  assert.equal(await r.code, 0, r.err())
  const lines = r.out().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; line?: string; replies?: string[]; pairedBy?: string })
  assert.equal(lines[0]!.kind, 'serve-connection')
  assert.equal(lines[0]!.pairedBy, 'its cookie')
  const cal = lines.find((l) => l.kind === 'serve-command' && l.line?.startsWith('CAL 94 '))
  assert.deepEqual(cal?.replies?.map((x) => x.split(' ')[0]), ['CAL', 'JOI'])
  assert.match(lines[1]!.line ?? '', /^USR 93 \S+ \*\*\*$/)
})
