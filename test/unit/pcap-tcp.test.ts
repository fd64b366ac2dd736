import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { IpDecoder, newIpView } from '../../src/pcap/ip.js'
import { networkOffset } from '../../src/pcap/link.js'
import { newTcpSegment, parseTcp } from '../../src/pcap/tcp-segment.js'
import { TcpReassembler, type TcpFlow } from '../../src/pcap/tcp.js'
import { conversation, frames, TCP, type Rec, type Seg } from '../helpers/pcap-build.js'

const client = { ip: '192.0.2.10', port: 3331 }
const server = { ip: '203.0.113.5', port: 1863 }

interface Log { streams: [string, string]; gaps: Array<[number, number, string]>; conflicts: number; closes: string[]; endpoints: string[][] }

/** Run records through a reassembler; collect each direction's bytes as text with gaps marked. */
function reassemble(recs: Rec[], options: ConstructorParameters<typeof TcpReassembler>[1] = {}, finish = true): Log {
  const log: Log = { streams: ['', ''], gaps: [], conflicts: 0, closes: [], endpoints: [] }
  const r = new TcpReassembler<null>({
    data: (_f, dir, bytes) => { log.streams[dir] += bytes.toString('latin1') },
    gap: (_f, dir, n, reason) => { log.gaps.push([dir, n, reason]); log.streams[dir] += `<gap ${n}>` },
    conflict: () => { log.conflicts++ },
    close: (f: TcpFlow<null>, reason) => { log.closes.push(reason); log.endpoints.push([...f.endpoints]) },
  }, options)
  const ip = new IpDecoder()
  const v = newIpView()
  const s = newTcpSegment(v)
  let last = 0
  for (const rec of recs) {
    last = rec.tsUs
    if (ip.decode(rec.data, networkOffset(1, rec.data), rec.tsUs, v) && parseTcp(v, s)) r.segment(s, rec.tsUs)
  }
  if (finish) r.finish(last)
  return log
}

const script: Array<[boolean, string]> = [
  [true, 'VER 1 MSNP8 CVR0\r\n'], [false, 'VER 1 MSNP8\r\n'],
  [true, 'MSG 2 N 40\r\n' + 'x'.repeat(40) + 'MSG 3 N 5\r\nhello'], [false, 'ACK 2\r\nACK 3\r\n'],
]
const clientText = script.filter(([c]) => c).map(([, t]) => t).join('')
const serverText = script.filter(([c]) => !c).map(([, t]) => t).join('')

test('delivers both directions in order and closes on FIN', () => {
  const log = reassemble(frames(conversation(script, { mss: 7 }), client, server))
  assert.deepEqual(log.streams, [clientText, serverText])
  assert.deepEqual(log.gaps, [])
  assert.deepEqual(log.closes, ['FIN'])
  assert.deepEqual(log.endpoints, [['192.0.2.10:3331', '203.0.113.5:1863']])
})

test('puts reordered segments back in order and drops identical retransmissions', () => {
  const segs = conversation(script, { mss: 5 })
  const data = segs.filter((s) => s.payload.length > 0)
  // swap neighbours and send every third segment twice, the copy later
  const shuffled: Seg[] = []
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!
    if (s.payload.length > 0 && i + 1 < segs.length && segs[i + 1]!.payload.length > 0 && i % 2 === 0) { shuffled.push(segs[i + 1]!, s); i++ } else shuffled.push(s)
  }
  for (let i = 0; i < data.length; i += 3) shuffled.splice(Math.min(shuffled.length - 3, shuffled.indexOf(data[i]!) + 4), 0, data[i]!)
  const log = reassemble(frames(shuffled, client, server))
  assert.deepEqual(log.streams, [clientText, serverText])
  assert.equal(log.conflicts, 0)
  assert.deepEqual(log.gaps, [])
})

test('keeps the first copy of an overlap and reports the disagreement', () => {
  const segs = conversation([[true, 'USR 1 alice@example.com cookie\r\n']], { mss: 10, close: false })
  const first = segs.find((s) => s.payload.length > 0)!
  const forged = { ...first, payload: Buffer.from('XXXXXXXXXX'), tsUs: first.tsUs + 1 }
  const later = segs.filter((s) => s.payload.length > 0)[2]!
  const forgedLater = { ...later, seq: later.seq - 2, payload: Buffer.from('ZZZZ'), tsUs: later.tsUs - 1 }
  const order = [...segs]
  order.splice(order.indexOf(first) + 1, 0, forged)
  order.splice(order.indexOf(later) + 1, 0, forgedLater)
  const log = reassemble(frames(order, client, server))
  assert.equal(log.streams[0], 'USR 1 alice@example.com cookie\r\n')
  assert.equal(log.conflicts, 2)
})

test('declares bytes the peer acknowledged but the capture lacks as a gap, then goes on', () => {
  const segs = conversation([[true, 'AAAAA'], [true, 'BBBBB'], [true, 'CCCCC'], [false, 'OK']], { mss: 5 })
  const lost = segs.find((s) => s.payload.toString() === 'BBBBB')!
  const log = reassemble(frames(segs.filter((s) => s !== lost), client, server))
  assert.deepEqual(log.streams, ['AAAAA<gap 5>CCCCC', 'OK'])
  assert.match(log.gaps[0]![2], /acknowledged/)
  assert.deepEqual(log.closes, ['FIN'])
})

test('a loss just before the FIN is found from the acknowledgment of the FIN', () => {
  const segs = conversation([[true, 'AAAAA'], [true, 'BBBBB']], { mss: 5 })
  const log = reassemble(frames(segs.filter((s) => s.payload.toString() !== 'BBBBB'), client, server), {}, false)
  assert.deepEqual(log.streams, ['AAAAA<gap 5>', ''])
  assert.deepEqual(log.closes, ['FIN'])
})

test('an acknowledgment captured before its data causes no gap', () => {
  const segs = conversation([[true, 'AAAAA'], [false, 'OK']], { mss: 5 })
  const data = segs.find((s) => s.payload.toString() === 'AAAAA')!
  const ackOfIt = segs.find((s) => !s.fromClient && s.ack === data.seq + 5)!
  const order = segs.filter((s) => s !== data)
  order.splice(order.indexOf(ackOfIt) + 1, 0, data)
  const log = reassemble(frames(order, client, server))
  assert.deepEqual(log.streams, ['AAAAA', 'OK'])
  assert.deepEqual(log.gaps, [])
})

test('reads a capture that starts mid-connection, or holds one direction only', () => {
  const segs = conversation(script, { mss: 6, handshake: false })
  const log = reassemble(frames(segs.filter((s) => s.fromClient), client, server))
  assert.deepEqual(log.streams, [clientText, ''])
  assert.deepEqual(log.closes, ['FIN'])
  const tail = segs.filter((s) => s.payload.length > 0).slice(2)
  const mid = reassemble(frames(tail, client, server))
  assert.equal(mid.streams[0], clientText.slice(12))
})

test('declares a gap when the out-of-order buffer overflows', () => {
  const segs = conversation([[true, 'A'.repeat(10) + 'B'.repeat(100)]], { mss: 10, close: false }).filter((s) => s.fromClient)
  const log = reassemble(frames(segs.filter((s) => s.payload.toString() !== 'A'.repeat(10)), client, server), { maxBuffered: 50 })
  assert.equal(log.gaps[0]![1], 10)
  assert.match(log.gaps[0]![2], /buffer full/)
  assert.equal(log.streams[0], '<gap 10>' + 'B'.repeat(100))
})

test('follows sequence numbers across the 32-bit wrap', () => {
  const log = reassemble(frames(conversation(script, { mss: 4, isn: [0xfffffff0, 0xfffffffa] }), client, server))
  assert.deepEqual(log.streams, [clientText, serverText])
  assert.deepEqual(log.gaps, [])
})

test('closes on RST, on a reused port, when idle, and at the end of the capture', () => {
  const segs = conversation([[true, 'VER 1 MSNP8\r\n']], { close: false })
  const rst: Seg = { fromClient: false, seq: segs.at(-1)!.ack, ack: 0, flags: TCP.RST, payload: Buffer.alloc(0), tsUs: 2e15 }
  assert.deepEqual(reassemble(frames([...segs, rst], client, server)).closes, ['RST'])
  const again = conversation([[true, 'VER 2 MSNP8\r\n']], { close: false, isn: [77, 88] })
  assert.deepEqual(reassemble(frames([...segs, ...again], client, server)).closes, ['port reused', 'end of capture'])
  const log: string[] = []
  const r = new TcpReassembler<null>({ data() {}, gap() {}, conflict() {}, close: (_f, why) => { log.push(why) } }, { idleUs: 1000 })
  const ip = new IpDecoder(); const v = newIpView(); const s = newTcpSegment(v)
  for (const rec of frames(segs, client, server)) if (ip.decode(rec.data, 14, rec.tsUs, v) && parseTcp(v, s)) r.segment(s, rec.tsUs)
  r.sweep(segs.at(-1)!.tsUs + 5000)
  assert.deepEqual(log, ['idle'])
})

test('any segmentation, reordering and duplication gives back the same bytes (property)', () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.boolean(), fc.string({ minLength: 1, maxLength: 40 })), { minLength: 1, maxLength: 12 }),
    fc.integer({ min: 1, max: 16 }),
    fc.array(fc.nat(), { maxLength: 30 }),
    fc.array(fc.nat(), { maxLength: 10 }),
    (writes, mss, swaps, dups) => {
      const segs = conversation(writes, { mss })
      const first = 3
      const body = segs.slice(first, -3)
      // swap neighbours (one window of reordering), then duplicate some segments later on
      for (const k of swaps) {
        if (body.length < 2) break
        const i = k % (body.length - 1)
        ;[body[i], body[i + 1]] = [body[i + 1]!, body[i]!]
      }
      for (const k of dups) if (body.length > 0) body.splice(Math.min(body.length, (k % body.length) + 2), 0, body[k % body.length]!)
      const log = reassemble(frames([...segs.slice(0, first), ...body, ...segs.slice(-3)], client, server))
      const want = [writes.filter(([c]) => c).map(([, t]) => t).join(''), writes.filter(([c]) => !c).map(([, t]) => t).join('')]
      assert.deepEqual(log.streams, want.map((t) => Buffer.from(t, 'utf8').toString('latin1')))
      assert.deepEqual(log.gaps, [])
      assert.equal(log.conflicts, 0)
    },
  ), { numRuns: 150 })
})
