/**
 * `proxy --json` with nothing else that reads decoded fields: the relay only frames commands, and
 * they are decoded when their lines are written. The lines must say exactly what decoding in the
 * relay says: the same session through the real CLI, saved as a pcap on the side, and that
 * capture imported with commands decoded in the ordinary way, compared command by command.
 * With --filter, only what it matches is printed, decoded the same way.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { test } from 'node:test'
import type { CliIo } from '../../src/cli/io.js'
import { main } from '../../src/cli/main.js'
import { runLabScenario, SCENARIO_TEXTS } from '../../src/lab/scenario.js'
import { startLabServer } from '../../src/lab/server.js'
import { toJsonLine } from '../../src/sinks/json.js'
import { importCapture } from '../../src/transport/pcap-import.js'

type Line = Record<string, unknown>

/** `proxy --json` and `args` in front of a lab while the scenario runs; its lines once it stopped. */
async function proxyLines(t: import('node:test').TestContext, dialect: number, args: string[]): Promise<Line[]> {
  const lab = await startLabServer({ host: '127.0.0.3' })
  t.after(() => lab.close())
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  const listening = new Promise<RegExpMatchArray>((resolve) => {
    stderr.on('data', (c: Buffer) => {
      err += c.toString()
      const m = /listening on (\S+):(\d+),/.exec(err)
      if (m !== null) resolve(m)
    })
  })
  const stop = new AbortController()
  const io: CliIo = { stdout, stderr, stdin: Readable.from([]), env: { NO_COLOR: '1' }, stopSignal: stop.signal }
  const code = main(['proxy', '--listen', '127.0.0.1:0', '--upstream', `${lab.ds.host}:${lab.ds.port}`, '--json', ...args], io)
  t.after(() => stop.abort())
  const [, host, port] = await listening
  const summary = await runLabScenario({ serverHost: host!, port: Number(port), dialect })
  assert.ok(summary.clients[1]!.texts.includes(SCENARIO_TEXTS.hello))
  stop.abort()
  assert.equal(await code, 0, err)
  return out.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line)
}

/** What a command line says of the command itself, by connection endpoints and side. */
function commandsByStream(lines: Line[]): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const l of lines) {
    if (l.kind !== 'command') continue
    const k = `${l.client} ${l.server} ${l.from}`
    const list = m.get(k) ?? []
    list.push(JSON.stringify({ verb: l.verb, trId: l.trId, args: l.args, payloadLength: l.payloadLength, fields: l.fields, payload: l.payload, notes: l.notes }))
    m.set(k, list)
  }
  return m
}

for (const dialect of [8, 12, 18]) {
  test(`proxy --json (MSNP${dialect}): lines of commands decoded after forwarding equal ordinary decoding of the same bytes`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'msnscope-json-late-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const pcap = join(dir, 'live.pcap')
    const live = await proxyLines(t, dialect, ['--save', pcap, '--no-redact'])
    // every connection ended, and its last line came out before the proxy stopped
    const opened = live.filter((l) => l.kind === 'session-open').length
    assert.ok(opened >= 9, `connections: ${opened}`)
    assert.equal(live.filter((l) => l.kind === 'session-close').length, opened)
    assert.deepEqual(live.map((l) => l.seq), live.map((_, i) => i + 1))
    // fields and payloads were decoded, of passed commands and of rewritten referrals
    const text = live.find((l) => l.verb === 'MSG' && (l.payload as Line | null)?.text === SCENARIO_TEXTS.hello)
    assert.ok(text !== undefined, 'the chat text is decoded')
    const xfr = live.find((l) => l.verb === 'XFR' && l.from === 'server' && l.action === 'rewrite')
    assert.ok(xfr !== undefined && typeof (xfr.fields as Line).host === 'string', 'a rewritten referral has its fields')

    const reference: Line[] = []
    await importCapture(pcap, (e) => { reference.push(JSON.parse(toJsonLine(e)) as Line) })
    const a = commandsByStream(live)
    const b = commandsByStream(reference)
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort())
    for (const [k, cmds] of b) assert.deepEqual(a.get(k), cmds, k)
  })
}

test('proxy --json --filter: commands decoded after forwarding are filtered, and what matches is printed decoded', async (t) => {
  const live = await proxyLines(t, 12, ['--filter', '~verb MSG & ~from client & ~text lunch'])
  assert.ok(live.length >= 1, 'the chat text matched')
  for (const l of live) {
    assert.equal(l.kind, 'command')
    assert.equal(l.verb, 'MSG')
    assert.equal(l.from, 'client')
    assert.match(String((l.payload as Line).text), /lunch/)
  }
  assert.ok(live.some((l) => (l.payload as Line).text === SCENARIO_TEXTS.hello))
})
