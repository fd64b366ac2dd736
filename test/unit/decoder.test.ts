import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import { encodeCommand } from '../../src/protocol/encoder.js'
import type { CommandEvent, MsnpEvent, Side } from '../../src/protocol/events.js'
import { VECTORS, vectorStreams } from '../helpers/vectors.js'

const decodeAll = (from: Side, chunks: Buffer[], opts = {}): MsnpEvent[] => {
  const d = new MsnpDecoder(from, opts)
  const out: MsnpEvent[] = []
  for (const c of chunks) out.push(...d.push(c))
  out.push(...d.end())
  return out
}

/** What must not change with chunking: everything but object identity. */
const summary = (events: MsnpEvent[]): unknown[] =>
  events.map((e) => e.kind === 'command'
    ? [e.kind, e.offset, e.verb, e.trId, e.args.join(' '), e.payloadLength, e.raw.toString('hex'), JSON.stringify(e.fields), JSON.stringify(e.payload)]
    : [e.kind, e.offset, e.code, e.raw.toString('hex')])

const rawTotal = (events: MsnpEvent[]): number => events.reduce((n, e) => n + e.raw.length, 0)

test('TV9 framer edge cases give the same nine frames whole, byte by byte and split at every offset', () => {
  const tv9 = VECTORS.TV9 as { stream_hex: string; frames: { line: string; payloadLength: number | null }[] }
  const bytes = Buffer.from(tv9.stream_hex, 'hex')
  const expected = tv9.frames.map((f) => [f.line.split(' ')[0], f.payloadLength])
  const whole = decodeAll('server', [bytes])
  assert.deepEqual(whole.map((e) => e.kind === 'command' ? [e.verb, e.payloadLength] : e.kind), expected)
  const bytewise = decodeAll('server', [...bytes].map((b) => Buffer.from([b])))
  assert.deepEqual(summary(bytewise), summary(whole))
  for (let cut = 0; cut <= bytes.length; cut++) {
    const events = decodeAll('server', [bytes.subarray(0, cut), bytes.subarray(cut)])
    assert.deepEqual(summary(events), summary(whole), `cut ${cut}`)
  }
})

test('TV9 lines keep their TrIDs and args apart from payload lengths', () => {
  const tv9 = VECTORS.TV9 as { stream_hex: string }
  const events = decodeAll('server', [Buffer.from(tv9.stream_hex, 'hex')]) as CommandEvent[]
  const byVerb = (i: number): [string, number | null, string[]] => [events[i]!.verb, events[i]!.trId, events[i]!.args]
  assert.deepEqual(byVerb(0), ['CHL', 0, ['29184530004719236661']])
  assert.deepEqual(byVerb(1), ['UBX', null, ['1:bob@example.net']])
  assert.deepEqual(byVerb(2), ['USR', 7, ['OK', 'alice@example.com', '1', '0']])
  assert.deepEqual(byVerb(3), ['MSG', null, ['Hotmail', 'Hotmail']])
  assert.deepEqual(byVerb(5), ['ADL', 9, ['OK']])
  assert.deepEqual(byVerb(6), ['NOT', null, []])
  assert.deepEqual(byVerb(7), ['241', 16, []])
  assert.deepEqual(byVerb(8), ['QNG', null, ['45']])
})

test('any chunking of every test-vector stream gives the same events as feeding it whole', () => {
  for (const s of vectorStreams()) {
    const whole = summary(decodeAll(s.from, [s.bytes]))
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: s.bytes.length }), { maxLength: 12 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b)
      const chunks: Buffer[] = []
      let at = 0
      for (const p of points) { chunks.push(s.bytes.subarray(at, p)); at = p }
      chunks.push(s.bytes.subarray(at))
      assert.deepEqual(summary(decodeAll(s.from, chunks)), whole, s.name)
    }), { numRuns: 150 })
  }
})

test('every test-vector command is framed whole and re-encodes to its exact bytes', () => {
  for (const s of vectorStreams()) {
    const events = decodeAll(s.from, [s.bytes])
    assert.equal(rawTotal(events), s.bytes.length, s.name)
    for (const e of events) {
      assert.equal(e.kind, 'command', `${s.name}: ${e.kind === 'malformed' ? e.reason : ''}`)
      if (e.kind !== 'command') continue
      const again = encodeCommand({ verb: e.verb, trId: e.trId, args: e.args, payloadRaw: e.payloadRaw, ...(e.wire ? { wire: e.wire } : {}) })
      assert.ok(again.equals(e.raw), `${s.name}: ${e.raw.toString('latin1').slice(0, 60)}`)
    }
    if (s.items.length > 0) {
      assert.deepEqual(events.map((e) => e.raw.toString('hex')), s.items.map((b) => b.toString('hex')), s.name)
    }
  }
})

test('the encoder recomputes payload lengths and builds canonical lines', () => {
  const bytes = encodeCommand({ verb: 'MSG', trId: 4, args: ['N'], payloadRaw: Buffer.from('MIME-Version: 1.0\r\n\r\nhé', 'utf8') })
  assert.equal(bytes.toString('utf8'), 'MSG 4 N 24\r\nMIME-Version: 1.0\r\n\r\nhé')
  assert.equal(encodeCommand({ verb: 'UBX', trId: null, args: ['1:bob@example.net'], payloadRaw: Buffer.alloc(0) }).toString(), 'UBX 1:bob@example.net 0\r\n')
  assert.equal(encodeCommand({ verb: 'OUT', trId: null, args: [] }).toString(), 'OUT\r\n')
})

test('CHL ends in a number and carries no payload; QRY from the client always does', () => {
  const events = decodeAll('server', [Buffer.from('CHL 0 123\r\nQNG 50\r\n')]) as CommandEvent[]
  assert.deepEqual(events.map((e) => [e.verb, e.payloadLength]), [['CHL', null], ['QNG', null]])
  const qry = decodeAll('client', [Buffer.from('QRY 11 PROD0090YUAUV{2B 32\r\n0123456789abcdef0123456789abcdefPNG\r\n')]) as CommandEvent[]
  assert.deepEqual(qry.map((e) => [e.verb, e.trId, e.args, e.payloadLength]), [['QRY', 11, ['PROD0090YUAUV{2B'], 32], ['PNG', null, [], null]])
})

test('bare LF, odd spacing, lower-case and unknown verbs decode and re-encode exactly', () => {
  const input = Buffer.from('VER  1 MSNP8\tCVR0 \nmsg 2 N 3\r\nabcZZZ 5 x y\r\nPNG\n', 'latin1')
  const events = decodeAll('client', [input]) as CommandEvent[]
  assert.deepEqual(events.map((e) => [e.verb, e.trId, e.args, e.payloadLength]), [
    ['VER', 1, ['MSNP8', 'CVR0'], null], ['msg', 2, ['N'], 3], ['ZZZ', 5, ['x', 'y'], null], ['PNG', null, [], null],
  ])
  assert.deepEqual(events[1]!.notes, ['lowercase verb'])
  assert.deepEqual(events[2]!.notes, ['unknown verb'])
  for (const e of events) assert.ok(encodeCommand(e).equals(e.raw), e.raw.toString('latin1'))
  assert.equal(rawTotal(events), input.length)
})

test('non-canonical numbers and latin1 bytes survive a round trip', () => {
  const input = Buffer.concat([Buffer.from('MSG 007 N 03\r\nabc'), Buffer.from([0x52, 0x45, 0x41, 0x20, 0x39, 0x20, 0x61, 0x20, 0xe9, 0x0d, 0x0a])])
  const events = decodeAll('client', [input]) as CommandEvent[]
  assert.deepEqual(events.map((e) => [e.verb, e.trId, e.payloadLength]), [['MSG', 7, 3], ['REA', 9, null]])
  assert.equal(events[1]!.args[1], 'é')
  for (const e of events) assert.ok(encodeCommand(e).equals(e.raw))
})

test('a switchboard TrID need not start at 1', () => {
  const events = decodeAll('client', [Buffer.from('USR 178 alice@example.com 1717.29.1\r\nCAL 179 bob@example.net\r\n')]) as CommandEvent[]
  assert.deepEqual(events.map((e) => e.trId), [178, 179])
})

test('VER from the server sets the dialect for the commands after it; a client offer is tentative', () => {
  const d = new MsnpDecoder('server')
  const [ver, cvr] = d.push(Buffer.from('VER 1 MSNP12 CVR0\r\nCVR 2 7.5 7.5 7.0 x y\r\n')) as CommandEvent[]
  assert.equal(ver!.dialect, 12)
  assert.equal(cvr!.dialect, 12)
  assert.equal(d.dialectState.confirmed, true)
  const c = new MsnpDecoder('client', { dialect: d.dialectState })
  c.push(Buffer.from('VER 1 MSNP8 CVR0\r\n'))
  assert.equal(c.dialect, 12, 'a confirmed dialect is not overridden by an offer')
  const fresh = new MsnpDecoder('client')
  fresh.push(Buffer.from('VER 1 MSNP9 MSNP8 CVR0\r\n'))
  assert.deepEqual([fresh.dialect, fresh.dialectState.confirmed], [9, false])
})

test('a known dialect frames a payload verb of a later dialect as one line', () => {
  const events = decodeAll('client', [Buffer.from('UUX 10 5\r\nPNG\r\n')], { dialect: 8 }) as CommandEvent[]
  assert.deepEqual(events.map((e) => [e.verb, e.payloadLength]), [['UUX', null], ['PNG', null]])
  const any = decodeAll('client', [Buffer.from('UUX 10 5\r\nPNG\r\n')]) as CommandEvent[]
  assert.deepEqual(any.map((e) => [e.verb, e.payloadLength]), [['UUX', 5]])
})

test('an over-long line, an absurd payload length and garbage become malformed events, then decoding resumes', () => {
  const long = Buffer.concat([Buffer.from('MSG 1 N 5 '), Buffer.alloc(300, 0x41), Buffer.from('\r\nPNG\r\n')])
  const ev1 = decodeAll('client', [long], { limits: { maxLine: 64 } })
  assert.deepEqual(ev1.map((e) => e.kind === 'command' ? e.verb : e.code), ['line-too-long', 'PNG'])
  assert.equal(rawTotal(ev1), long.length)
  // the same, arriving in small pieces: nothing is buffered without bound
  const d = new MsnpDecoder('client', { limits: { maxLine: 64 } })
  const pieces: MsnpEvent[] = []
  for (let i = 0; i < long.length; i += 7) {
    pieces.push(...d.push(long.subarray(i, i + 7)))
    assert.ok(d.buffered <= 64 + 7)
  }
  assert.equal(rawTotal(pieces), long.length)
  assert.deepEqual(pieces.filter((e) => e.kind === 'command').map((e) => (e as CommandEvent).verb), ['PNG'])

  const absurd = Buffer.from('MSG 2 N 99999999999\r\nPNG\r\n')
  const ev2 = decodeAll('client', [absurd])
  assert.deepEqual(ev2.map((e) => e.kind === 'command' ? e.verb : e.code), ['payload-too-large', 'PNG'])
  const garbage = Buffer.from('\x00\x01hello world\r\n\r\nMSG 3 N x\r\nOUT\r\n', 'latin1')
  const ev3 = decodeAll('client', [garbage])
  assert.deepEqual(ev3.map((e) => e.kind === 'command' ? e.verb : e.code), ['not-a-command', 'empty-line', 'bad-payload-length', 'OUT'])
  assert.equal(rawTotal(ev3), garbage.length)
})

test('a stream that ends inside a payload reports it as truncated with its bytes', () => {
  const input = Buffer.from('MSG 1 N 10\r\nabc')
  const events = decodeAll('client', [input])
  assert.deepEqual(events.map((e) => e.kind === 'malformed' ? e.code : e.kind), ['truncated'])
  assert.equal(rawTotal(events), input.length)
})

test('after a gap the decoder skips to the next line that starts with a known verb', () => {
  const d = new MsnpDecoder('server')
  const first = d.push(Buffer.from('MSG alice@example.com Alice 40\r\nMIME-Version: 1.0\r\n'))
  assert.equal(first.length, 0)
  const lost = d.gap(100)
  assert.deepEqual(lost.map((e) => e.kind === 'malformed' && e.code), ['truncated'])
  const after = d.push(Buffer.from('of the lost payload\r\nmore tail\r\nACK 5\r\nJOI bob@example.net Bob\r\n'))
  assert.deepEqual(after.map((e) => e.kind === 'command' ? e.verb : e.code), ['resync', 'ACK', 'JOI'])
  assert.equal((after[1] as CommandEvent).offset, 'MSG alice@example.com Alice 40\r\nMIME-Version: 1.0\r\n'.length + 100 + 'of the lost payload\r\nmore tail\r\n'.length)
})

test('a capture that starts mid-stream resynchronises on the first command', () => {
  const events = decodeAll('client', [Buffer.from('ping: 1\r\n\r\nMSG 5 U 3\r\nabc')], { midStream: true })
  assert.deepEqual(events.map((e) => e.kind === 'command' ? e.verb : e.code), ['resync', 'MSG'])
})

const VERBS = ['MSG', 'VER', 'USR', 'XFR', 'CHL', 'QRY', 'UUX', 'UBX', 'ADL', 'NOT', 'GCF', 'PUT', '241', 'SDG', 'NLN', 'PNG']

test('fuzz: 100,000 random and mutated inputs never throw, and every byte is accounted for', () => {
  let seed = 0x2545f491
  const rand = (n: number): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n }
  const corpus = vectorStreams().map((s) => s.bytes)
  const pieces = [' ', '\r\n', '\n', '\r', '0', '4294967296', '99999999', 'OK', '\x00', '%', ':', 'MSNP8']
  let runs = 0
  for (let i = 0; i < 100_000; i++) {
    let input: Buffer
    const mode = rand(3)
    if (mode === 0) {
      const parts: string[] = []
      for (let k = rand(8); k >= 0; k--) {
        parts.push(VERBS[rand(VERBS.length)]!, ' ', String(rand(50)), ' ', pieces[rand(pieces.length)]!, ' ', String(rand(40)), '\r\n')
        if (rand(2) === 0) parts.push('x'.repeat(rand(40)))
      }
      input = Buffer.from(parts.join(''), 'latin1')
    } else if (mode === 1) {
      input = Buffer.alloc(rand(200))
      for (let k = 0; k < input.length; k++) input.writeUInt8(rand(256), k)
    } else {
      const src = corpus[rand(corpus.length)]!
      const start = rand(src.length)
      input = Buffer.from(src.subarray(start, start + 1 + rand(400)))
      for (let m = rand(4); m > 0 && input.length > 0; m--) input.writeUInt8(rand(256), rand(input.length))
    }
    const from: Side = rand(2) === 0 ? 'client' : 'server'
    const d = new MsnpDecoder(from, { limits: { maxLine: 256, maxPayload: 4096 }, ...(rand(4) === 0 ? { midStream: true } : {}) })
    const events: MsnpEvent[] = []
    let at = 0
    while (at < input.length) {
      const n = 1 + rand(64)
      events.push(...d.push(input.subarray(at, at + n)))
      at += n
    }
    events.push(...d.end())
    assert.equal(rawTotal(events), input.length, `input ${i}: ${input.toString('hex')}`)
    for (const e of events) if (e.kind === 'command') assert.ok(encodeCommand(e).equals(e.raw), `re-encode ${i}: ${JSON.stringify(e.raw.toString("latin1"))} ${JSON.stringify(e.wire)} ${JSON.stringify(encodeCommand(e).toString("latin1"))}`)
    runs++
  }
  assert.equal(runs, 100_000)
})

test('decoded fields and payloads hold no Buffers, so events serialise to plain JSON', () => {
  const findBuffer = (v: unknown, path: string): string | null => {
    if (v instanceof Uint8Array) return path
    if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) { const r = findBuffer(x, `${path}.${k}`); if (r !== null) return r }
    }
    return null
  }
  let payloads = 0
  for (const s of vectorStreams()) {
    for (const e of decodeAll(s.from, [s.bytes])) {
      if (e.kind !== 'command') continue
      if (e.payload !== null) payloads++
      assert.equal(findBuffer({ fields: e.fields, payload: e.payload }, e.verb), null, s.name)
    }
  }
  assert.ok(payloads > 20, 'the vectors exercise the payload decoders')
})

test('a plain line reads the same on the short route as on the general one', () => {
  // a tab after the verb sends the same line down the general route (only its wire layout differs)
  const lines: Array<[Side, string, string]> = [
    ['client', 'QRY 11', ''], ['client', 'MSG 4294967296 N 3', 'abc'], ['client', 'MSG 007 N 003', 'abc'], ['client', 'MSG 05 N 03', 'abc'],
    ['server', 'ADL 5 OK', ''], ['server', 'ADL 5 12', '<ml l="1"/>x'], ['server', 'GCF 3 12', '<Policies/>x'],
    ['client', 'MSG 2 N x', ''], ['client', 'MSG 2 N 99999999999', ''], ['server', 'XFR 0012 SB 192.0.2.1:1863 CKI 1.2.3', ''],
    ['server', 'NLN NLN alice@example.com Alice%20A. 1342177280 0', ''], ['server', 'LSG 1 Friends 0', ''],
    ['client', `SDC 9 ${Array.from({ length: 70 }, (_, i) => `a${i}`).join(' ')} 3`, 'xyz'],
  ]
  const view = (events: MsnpEvent[]): unknown[] => events.map((e) => e.kind === 'command'
    ? [e.verb, e.trId, e.args, e.payloadLength, e.payloadRaw?.toString('latin1'), e.fields, e.payload, e.notes, e.wire?.trIdToken, e.wire?.lengthToken]
    : [e.code, e.reason])
  for (const [from, line, payload] of lines) {
    const plain = decodeAll(from, [Buffer.from(`${line}\r\n${payload}`, 'latin1')])
    const general = decodeAll(from, [Buffer.from(`${line.replace(' ', '\t')}\r\n${payload}`, 'latin1')])
    assert.deepEqual(view(plain), view(general), line)
    assert.equal(rawTotal(plain), line.length + 2 + payload.length)
  }
})
