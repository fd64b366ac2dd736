/**
 * Capture import end to end on captures built byte by byte: recognition on any port without
 * false positives, forced ports, gaps and resynchronisation, conflicting retransmissions, IP
 * fragments, snap-length cuts, damaged files, every container (pcap µs/ns, pcapng, gzip, JSONL,
 * a stream read as it arrives).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { MsnscopeError } from '../../src/errors.js'
import type { ScopeEvent } from '../../src/events.js'
import { toJsonLine } from '../../src/sinks/json.js'
import { JsonlLoader } from '../../src/transport/jsonl-import.js'
import { captureEvents, importCapture, type ImportOptions, type ImportResult } from '../../src/transport/pcap-import.js'
import { repoRoot } from '../helpers/capture-truth.js'
import { conversation, ethernet, frames, ipv4, pcapFile, pcapngFile, tcp, TCP, type Rec } from '../helpers/pcap-build.js'

const alice = { ip: '192.0.2.10', port: 3331 }
const sb = { ip: '203.0.113.5', port: 1863 }

async function run(file: Buffer, options: ImportOptions = {}, chunk = 0): Promise<{ events: ScopeEvent[]; result: ImportResult }> {
  const events: ScopeEvent[] = []
  const parts: Buffer[] = []
  if (chunk > 0) for (let i = 0; i < file.length; i += chunk) parts.push(file.subarray(i, i + chunk))
  else parts.push(file)
  const result = await importCapture(Readable.from(parts), (e) => { events.push(e) }, options)
  return { events, result }
}

const commands = (events: ScopeEvent[]): string[] =>
  events.filter((e) => e.kind === 'command').map((e) => (e.kind === 'command' ? `${e.conn} ${e.command.from} ${e.command.raw.toString('latin1').split('\r\n')[0]}` : ''))

const mime = (text: string): string => `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n${text}`
const msg = (line: string, text: string): string => `${line} ${Buffer.byteLength(mime(text))}\r\n${mime(text)}`

const chat: Array<[boolean, string]> = [
  [true, 'USR 1 alice@example.com 17262740.1050826919.32308\r\n'], [false, 'USR 1 OK alice@example.com Alice\r\n'],
  [true, 'CAL 2 bob@example.com\r\n'], [false, 'CAL 2 RINGING 17262740\r\n'], [false, 'JOI bob@example.com Bob\r\n'],
  [true, msg('MSG 3 N', 'Hello Bob!')],
  [false, msg('MSG bob@example.com Bob', 'Hi Alice, ça va ?')],
  [true, 'OUT\r\n'],
]
const chatLines = ['USR 1 alice@example.com 17262740.1050826919.32308', 'USR 1 OK alice@example.com Alice', 'CAL 2 bob@example.com', 'CAL 2 RINGING 17262740', 'JOI bob@example.com Bob', 'MSG 3 N 72', 'MSG bob@example.com Bob 80', 'OUT']

test('finds MSNP on any port among other traffic, and nothing in the other traffic', async () => {
  const msn = frames(conversation(chat, { mss: 9 }), { ip: '192.0.2.10', port: 40000 }, { ip: '203.0.113.5', port: 5190 })
  const web = frames(conversation([[true, 'GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n'], [false, 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nPUT ']]), { ip: '192.0.2.11', port: 40001 }, { ip: '198.51.100.1', port: 80 })
  const smtp = frames(conversation([[false, '220 mail.example.com ESMTP\r\n'], [true, 'HELO x\r\n'], [false, '250 OK\r\n']]), { ip: '192.0.2.12', port: 40002 }, { ip: '198.51.100.2', port: 25 })
  const binary = frames(conversation([[true, Buffer.from([5, 0, 11, 3, 16, 0, 0, 0, 72, 0])], [false, Buffer.from('\x05\x00\x0c\x03MSG 1 N 5\r\nhello')]]), { ip: '192.0.2.13', port: 40003 }, { ip: '198.51.100.3', port: 135 })
  const all = [...msn, ...web, ...smtp, ...binary].sort((a, b) => a.tsUs - b.tsUs)
  const { events, result } = await run(pcapFile(all))
  assert.deepEqual(commands(events), chatLines.map((l, i) => `c1 ${chat[i]![0] ? 'client' : 'server'} ${l}`))
  const open = events.find((e) => e.kind === 'session-open')!
  assert.deepEqual([open.client, open.server, open.role], ['192.0.2.10:40000', '203.0.113.5:5190', 'SB'])
  assert.equal(result.stats!.msnpStreams, 1)
  assert.equal(result.stats!.ignoredStreams, 3)
})

test('--port decodes a port whatever it starts with', async () => {
  const segs = conversation([[false, 'tail of something\r\nACK 5\r\n'], [false, '\x00\x01 binary\r\n']], { handshake: false, close: false })
  const file = pcapFile(frames(segs, { ip: '192.0.2.10', port: 40000 }, { ip: '203.0.113.5', port: 7777 }))
  assert.deepEqual(commands((await run(file)).events), [])
  const forced = await run(file, { ports: [7777] })
  assert.deepEqual(commands(forced.events), ['c1 server ACK 5'])
  assert.equal(forced.events.find((e) => e.kind === 'session-open')?.server, '203.0.113.5:7777')
  assert.equal(forced.events.filter((e) => e.kind === 'malformed').length, 2)
})

test('bytes missing from the capture: a gap event with their count, then the decoder finds its feet', async () => {
  const segs = conversation(chat, { mss: 20 })
  const dropped = segs.findIndex((s) => s.payload.toString().startsWith('MSG 3')) + 1
  const lost = segs[dropped]!.payload.length
  const { events } = await run(pcapFile(frames(segs.filter((_, i) => i !== dropped), alice, sb)))
  const gap = events.find((e) => e.kind === 'gap')
  assert.ok(gap !== undefined && gap.kind === 'gap')
  assert.deepEqual([gap.from, gap.bytes], ['client', lost])
  // client side: the MSG cut by the gap is reported as truncated, bytes up to the next command are skipped, OUT decodes
  const client = events.filter((e) => (e.kind === 'command' ? e.command.from : 'from' in e ? e.from : null) === 'client')
  const kinds = client.map((e) => (e.kind === 'command' ? e.command.verb : e.kind === 'malformed' ? e.code : e.kind))
  assert.deepEqual(kinds.slice(0, 3), ['USR', 'CAL', 'truncated'])
  assert.equal(kinds[3], 'gap')
  assert.ok(kinds.slice(4, -1).every((k) => k === 'resync'), kinds.join())
  assert.equal(kinds.at(-1), 'OUT')
  assert.equal(commands(events).filter((c) => c.startsWith('c1 server')).length, 4)
})

test('a retransmission that disagrees is flagged, the first copy is kept', async () => {
  const segs = conversation(chat.slice(0, 3), { mss: 1000 })
  const i = segs.findIndex((s) => s.payload.toString().startsWith('CAL'))
  const liar = { ...segs[i]!, payload: Buffer.from('CAL 2 eve@example.org\r\n'), tsUs: segs[i]!.tsUs + 1 }
  segs.splice(i + 1, 0, liar)
  const { events } = await run(pcapFile(frames(segs, alice, sb)))
  assert.ok(commands(events).includes('c1 client CAL 2 bob@example.com'))
  const flag = events.find((e) => e.kind === 'gap')
  assert.ok(flag !== undefined && flag.kind === 'gap' && flag.bytes === 0 && /disagrees/.test(flag.reason ?? ''))
})

test('a capture that starts in the middle of a payload resynchronises on the next command', async () => {
  const segs = conversation(chat, { mss: 30, handshake: false })
  const from = segs.findIndex((s) => s.payload.toString().includes('Hello Bob'))
  const { events } = await run(pcapFile(frames(segs.slice(from), alice, sb)))
  assert.deepEqual(commands(events), ['c1 server MSG bob@example.com Bob 80', 'c1 client OUT'])
  const open = events[0]!
  assert.ok(open.kind === 'session-open' && open.midStream === true)
})

test('reassembles IP fragments and reports segments the snap length cut short', async () => {
  const seg = tcp(alice.port, sb.port, 1001, 1, TCP.ACK | TCP.PSH, Buffer.from(chat.map(([, t]) => t).join('').slice(0, 120)))
  const dgram = ipv4(alice.ip, sb.ip, seg).subarray(20)
  const syn: Rec[] = frames(conversation([], { close: false }), alice, sb)
  const t = syn.at(-1)!.tsUs
  const frags: Rec[] = [
    { tsUs: t + 1, data: ethernet(ipv4(alice.ip, sb.ip, dgram.subarray(0, 64), { id: 9, more: true })) },
    { tsUs: t + 2, data: ethernet(ipv4(alice.ip, sb.ip, dgram.subarray(64), { id: 9, fragOffset: 64 })) },
  ]
  const { events } = await run(pcapFile([...syn, ...frags]))
  assert.deepEqual(commands(events).slice(0, 2), ['c1 client USR 1 alice@example.com 17262740.1050826919.32308', 'c1 client USR 1 OK alice@example.com Alice'])
  const big = frames(conversation(chat, { mss: 1460 }), alice, sb).map((r) => (r.data.length > 80 ? { ...r, data: r.data.subarray(0, 80), origLength: r.data.length } : r))
  const cut = await run(pcapFile(big, { snapLength: 80 }))
  assert.ok(cut.events.some((e) => e.kind === 'gap' && /cut short/.test(e.reason ?? '')))
})

const sample = pcapFile(frames(conversation(chat, { mss: 11 }), alice, sb))

test('every container gives the same events: µs and ns pcap, both byte orders, pcapng, gzip, a trickling stream', async () => {
  const want = (await run(sample)).events.map((e) => toJsonLine(e, { raw: true }))
  const recs = frames(conversation(chat, { mss: 11 }), alice, sb)
  const variants: Array<[string, Buffer, number]> = [
    ['big-endian', pcapFile(recs, { bigEndian: true }), 0],
    ['nanosecond', pcapFile(recs, { nanosecond: true }), 0],
    ['pcapng', pcapngFile([{ linkType: 1, tsresol: 9 }], recs.map((r) => ({ iface: 0, tsUs: r.tsUs, data: r.data }))), 0],
    ['gzip', gzipSync(sample), 0],
    ['7-byte chunks', sample, 7],
  ]
  for (const [name, file, chunk] of variants) {
    const got = (await run(file, {}, chunk)).events.map((e) => toJsonLine(e, { raw: true }))
    assert.deepEqual(got, want, name)
  }
})

test('saved JSONL loads back into the same events', async () => {
  const first = (await run(sample)).events.map((e) => toJsonLine(e, { raw: true }))
  const back = await run(Buffer.from(first.join('\n') + '\n'))
  assert.equal(back.result.format, 'jsonl')
  assert.deepEqual(back.events.map((e) => toJsonLine(e, { raw: true })), first)
  const damaged = await run(Buffer.from(first.slice(0, 3).join('\n') + '\n{not json\n' + first.slice(3).join('\n')))
  assert.equal(damaged.events.length, first.length)
  assert.match(damaged.result.warnings[0]!, /line 4: not JSON/)
})

test('saved JSONL read in chunks of any size: characters cut between chunks stay whole; an absurdly long line is skipped', () => {
  const limit = { seq: 1, ts: '2024-05-01T12:00:00.000Z', kind: 'limit', conn: '-', transport: 'tcp', client: null, server: null, role: '?', limit: 'idle-timeout', detail: 'Grüße aus Köln — ☃ 👋' }
  const text = Buffer.from(`${JSON.stringify(limit)}\n${JSON.stringify({ ...limit, detail: 'x'.repeat(5000) })}\n${JSON.stringify(limit)}\n`, 'utf8')
  for (const size of [1, 2, 3, 5, 7, 64, 4096]) {
    const got: ScopeEvent[] = []
    const loader = new JsonlLoader((e) => { got.push(e) }, 1000)
    for (let at = 0; at < text.length; at += size) loader.push(text.subarray(at, at + size))
    loader.end()
    assert.deepEqual(got.map((e) => (e as { detail?: string }).detail), [limit.detail, limit.detail], `chunks of ${size}`)
    assert.deepEqual(got.map((e) => e.seq), [1, 2])
    assert.deepEqual(loader.warnings, ['line 2: longer than 1000 characters, skipped'], `chunks of ${size}`)
  }
  // a long line that never ends is dropped as it comes, not kept
  const loader = new JsonlLoader(() => {}, 1000)
  for (let i = 0; i < 100; i++) loader.push(Buffer.alloc(4096, 0x41))
  loader.end()
  assert.deepEqual(loader.warnings, ['line 1: longer than 1000 characters, skipped'])
})

test('a truncated capture: everything before the damage, and a warning', async () => {
  const { events, result } = await run(sample.subarray(0, sample.length - 30))
  assert.match(result.warnings[0]!, /capture truncated/)
  assert.ok(commands(events).length >= 7)
  assert.equal(events.at(-1)!.kind, 'session-close')
  const ng = pcapngFile([{ linkType: 1 }], frames(conversation(chat), alice, sb).map((r) => ({ iface: 0, tsUs: r.tsUs, data: r.data })))
  const cutNg = await run(ng.subarray(0, ng.length - 10))
  assert.match(cutNg.result.warnings[0]!, /truncated/)
})

test('files that cannot be read at all are errors a person can act on', async () => {
  await assert.rejects(run(Buffer.from('GIF89a, not a capture at all')), (e: unknown) => e instanceof MsnscopeError && e.code === 'EFORMAT' && /not a pcap, pcapng or msnscope JSONL file/.test(e.message))
  await assert.rejects(run(Buffer.alloc(0)), /is empty/)
  await assert.rejects(run(pcapFile(frames(conversation(chat), alice, sb), { linkType: 147 })), (e: unknown) => e instanceof MsnscopeError && e.code === 'ELINKTYPE' && /link type 147/.test(e.message))
  await assert.rejects(run(sample.subarray(0, 20)), /inside the pcap header/)
  await assert.rejects(run(gzipSync(sample).subarray(0, 15)), /gzip|pcap header|empty/)
  await assert.rejects(importCapture('/nonexistent/file.pcap', () => {}), (e: unknown) => e instanceof MsnscopeError && e.code === 'EINPUT' && /ENOENT/.test(e.message))
})

test('pcapng with an interface of an unsupported link type: its packets are skipped with a warning', async () => {
  const recs = frames(conversation(chat), alice, sb)
  const ng = pcapngFile([{ linkType: 1 }, { linkType: 147 }], [...recs.map((r) => ({ iface: 0, tsUs: r.tsUs, data: r.data })), { iface: 1, tsUs: 3e15, data: Buffer.from('user data') }])
  const { events, result } = await run(ng)
  assert.equal(commands(events).length, chatLines.length)
  assert.match(result.warnings.join('\n'), /1 packets of link type 147 .* skipped/)
})

test('standard input is decoded as packets arrive, in batches a TUI can take', async () => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const half = Math.floor(sample.length / 2)
  async function* trickle(): AsyncGenerator<Buffer> {
    yield sample.subarray(0, half)
    await gate
    yield sample.subarray(half)
  }
  const batches = captureEvents(Readable.from(trickle()), { name: 'standard input' })
  const first = await batches.next()
  // events of the first half are out while the rest of the capture has not been written yet
  assert.equal(first.done, false)
  assert.ok(!first.done && first.value.some((e) => e.kind === 'command'))
  release()
  let total = first.done ? 0 : first.value.length
  let step = await batches.next()
  while (step.done !== true) { total += step.value.length; step = await batches.next() }
  assert.equal(total, step.value.events)
  assert.equal(step.value.name, 'standard input')
})

test('damaged captures never crash the import: random bytes flipped, cut anywhere (property)', async () => {
  const gateway = readFileSync(path.join(repoRoot, 'captures', 'msnp-gateway.pcap'))
  const inputs = [sample, gateway.subarray(0, 20000)]
  await fc.assert(fc.asyncProperty(
    fc.nat({ max: inputs.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 40 }), fc.nat(),
    async (which, flips, cutAt) => {
      const file = Buffer.from(inputs[which]!)
      // keep the file header so that the packets themselves are what is damaged
      for (const [at, value] of flips) file.writeUInt8(value, 24 + (at % (file.length - 24)))
      const cut = file.subarray(0, 24 + (cutAt % (file.length - 23)))
      try {
        const { events } = await run(cut)
        for (const e of events) assert.ok(typeof e.seq === 'number' && typeof e.ts === 'string')
      } catch (err) {
        assert.ok(err instanceof MsnscopeError, String(err))
      }
    },
  ), { numRuns: Number(process.env.FUZZ_RUNS ?? 60) })
})
