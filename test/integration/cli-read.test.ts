/**
 * `msnscope read` and `msnscope transcript` run in-process on real files: the summary, JSON
 * lines, transcripts, standard input, saved JSONL, and the messages and exit statuses for files
 * that cannot (or can only partly) be read.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { after, test } from 'node:test'
import { main } from '../../src/cli/main.js'
import type { CliIo } from '../../src/cli/io.js'
import { repoRoot, sharedDir, tempDir } from '../helpers/capture-truth.js'
import { pcapFile } from '../helpers/pcap-build.js'

interface Ran { code: number; out: string; err: string }

async function cli(args: string[], stdin: Buffer | null = null): Promise<Ran> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = '', err = ''
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  stderr.on('data', (c: Buffer) => { err += c.toString() })
  const io: CliIo = { stdout, stderr, stdin: stdin === null ? Readable.from([]) : Readable.from([stdin]), env: { NO_COLOR: '1' }, stopSignal: new AbortController().signal }
  const code = await main(args, io)
  return { code, out, err }
}

const ppa = path.join(sharedDir, 'captures', 'ppa-msnms.pcap')
const noShared = !existsSync(ppa) && 'no ../shared/captures here'
const gateway = path.join(repoRoot, 'captures', 'msnp-gateway.pcap')
const tmp = tempDir()
after(() => tmp.remove())

test('read: the summary of ppa-msnms.pcap shows the switchboard, its accounts and its chat', { skip: noShared }, async () => {
  const r = await cli(['read', ppa, '--no-tui'])
  assert.equal(r.code, 0)
  assert.equal(r.err, '')
  assert.match(r.out, /1 MSNP connection: 1 SB; 25 commands/)
  assert.match(r.out, /c1 +SB tcp +192\.168\.0\.114:3331 -> 207\.46\.26\.167:1863 .*tesla_brian@hotmail\.com +25 commands \(14 C>S, 11 S>C\)/)
  assert.match(r.out, /tesla_brian@hotmail\.com, tesla_thomas@hotmail\.com: 7 messages, 13 typing/)
})

test('read --json: every event of ppa-msnms.pcap, the switchboard accounts on them', { skip: noShared }, async () => {
  const r = await cli(['read', ppa, '--json'])
  assert.equal(r.code, 0)
  const events = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1))
  const cmds = events.filter((e) => e.kind === 'command')
  assert.equal(cmds.length, 25)
  assert.ok(cmds.every((e) => e.role === 'SB' && e.account === 'tesla_brian@hotmail.com' && e.conn === 'c1' && e.raw === undefined))
  assert.ok(cmds.some((e) => e.verb === 'JOI' && (e.args as string[])[0] === 'tesla_thomas@hotmail.com'))
  assert.match(String(events[0]!.ts), /^2006-12-29T02:27:41\.\d{6}Z$/)
  const raw = await cli(['read', ppa, '--json', '--raw'])
  assert.ok(raw.out.split('\n').filter((l) => l.includes('"kind":"command"')).every((l) => l.includes('"raw":"')))
})

test('read --filter: only the matching events, exactly as without the filter; the summary counts them; a bad filter says where', { skip: noShared }, async () => {
  const all = (await cli(['read', ppa, '--json'])).out.trim().split('\n')
  const r = await cli(['read', ppa, '--json', '--filter', '~verb MSG & ~from client & !~ct x-msmsgscontrol'])
  assert.equal(r.code, 0)
  const lines = r.out.trim().split('\n')
  // what the capture's client sent, typing notifications left out: the same lines as in the whole run
  const want = all.filter((l) => {
    const e = JSON.parse(l) as Record<string, unknown>
    return e.verb === 'MSG' && e.from === 'client' && !String((e.payload as Record<string, unknown>).contentType).includes('x-msmsgscontrol')
  })
  assert.ok(want.length >= 3)
  assert.deepEqual(lines, want)
  const s = await cli(['read', ppa, '--no-tui', '--filter', '~verb JOI | ~verb CAL'])
  assert.equal(s.code, 0)
  assert.match(s.out, /only the events --filter "~verb JOI \| ~verb CAL" matches/)
  assert.match(s.out, /1 MSNP connection: 1 SB; 3 commands/)
  assert.match(s.out, /CAL 2 +JOI 1/)
  // the session-close was not chosen: the connection is not said to be open
  assert.match(s.out, /3 commands \(1 C>S, 2 S>C\)\n/)
  const bad = await cli(['read', ppa, '--json', '--filter', '~verb MSG &'])
  assert.equal(bad.code, 2)
  assert.equal(bad.out, '')
  assert.match(bad.err, /--filter "~verb MSG &": expected a filter, text, ! or \( at 12/)
})

test('transcript: the 7 text messages of ppa-msnms.pcap in order, with their senders; typing marked', { skip: noShared }, async () => {
  const r = await cli(['transcript', ppa])
  assert.equal(r.code, 0)
  const lines = r.out.split('\n')
  assert.match(lines[0]!, /^== c1 switchboard \(207\.46\.26\.167:1863\): tesla_brian@hotmail\.com, tesla_thomas@hotmail\.com$/)
  const texts = lines.filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\S+ -> \S+: /.test(l) && !l.endsWith('[typing]'))
  assert.equal(texts.length, 7)
  const senders = texts.map((l) => l.split(/\s+/)[2]!.split('@')[0])
  assert.deepEqual(senders, ['tesla_brian', 'tesla_thomas', 'tesla_brian', 'tesla_thomas', 'tesla_brian', 'tesla_thomas', 'tesla_brian'])
  const times = texts.map((l) => l.slice(0, 19))
  assert.deepEqual(times, [...times].sort())
  assert.equal(lines.filter((l) => l.endsWith('[typing]')).length, 13)
  const quiet = await cli(['transcript', ppa, '--no-typing'])
  assert.ok(!quiet.out.includes('[typing]'))
})

test('read: gateway sessions in the summary; standard input and saved JSONL read the same', async () => {
  const file = await cli(['read', gateway, '--no-tui'])
  assert.match(file.out, /5 MSNP connections \(0 TCP, 5 HTTP gateway\): 2 DS, 2 NS, 1 SB/)
  const piped = await cli(['read', '-', '--no-tui'], readFileSync(gateway))
  assert.equal(piped.out.split('\n').slice(1).join('\n'), file.out.split('\n').slice(1).join('\n'))
  const saved = path.join(tmp.dir, 'saved.jsonl')
  writeFileSync(saved, (await cli(['read', gateway, '--json', '--raw'])).out)
  const back = await cli(['read', saved, '--no-tui'])
  assert.match(back.out.split('\n')[0]!, /saved\.jsonl: jsonl, \d+ events/)
  assert.equal(back.out.split('\n').slice(1).join('\n'), file.out.split('\n').slice(1).join('\n'))
  const again = await cli(['read', saved, '--json', '--raw'])
  assert.equal(again.out, readFileSync(saved, 'utf8'))
})

test('damaged input: one clear line, a non-zero status when nothing could be read, the rest still printed', async () => {
  const notCapture = path.join(tmp.dir, 'notes.txt')
  writeFileSync(notCapture, 'shopping list: milk, eggs\n')
  const a = await cli(['read', notCapture])
  assert.equal(a.code, 1)
  assert.match(a.err, /^msnscope read: .*notes\.txt is not a pcap, pcapng or msnscope JSONL file \(it starts with "shopping list: m"\)\n$/)

  const wifi = path.join(tmp.dir, 'wifi.pcap')
  writeFileSync(wifi, pcapFile([{ tsUs: 1, data: Buffer.alloc(40) }], { linkType: 105 }))
  const b = await cli(['read', wifi, '--json'])
  assert.equal(b.code, 1)
  assert.equal(b.err.split('\n').length, 2)
  assert.match(b.err, /link type 105 \(IEEE 802\.11\) is not supported; msnscope reads Ethernet/)

  const whole = readFileSync(gateway)
  const cut = path.join(tmp.dir, 'cut.pcap')
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)))
  const c = await cli(['read', cut, '--json'])
  assert.equal(c.code, 0)
  assert.match(c.err, /^msnscope read: warning: capture truncated: record \d+ is incomplete .*everything before it was read\n$/)
  assert.ok(c.out.split('\n').length > 100)
  const d = await cli(['read', cut, '--no-tui'])
  assert.match(d.out, /Warnings\n {2}capture truncated/)

  const missing = await cli(['read', path.join(tmp.dir, 'nope.pcap')])
  assert.equal(missing.code, 1)
  assert.match(missing.err, /cannot read .*nope\.pcap: ENOENT/)
  assert.equal((await cli(['read'])).code, 2)
  assert.equal((await cli(['read', gateway, '--port', '99999'])).code, 2)
})
