import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { test } from 'node:test'
import pcapParser from 'pcap-parser'
import { parsePcapHeader, PcapReader, sniffFormat } from '../../src/pcap/pcap-file.js'
import { PcapngReader } from '../../src/pcap/pcapng.js'
import { pcapFile, pcapngFile } from '../helpers/pcap-build.js'

const recs = [
  { tsUs: 1_066_212_000_000_001, data: Buffer.from('first packet') },
  { tsUs: 1_066_212_000_500_000, data: Buffer.from('second'), origLength: 1514 },
  { tsUs: 1_066_212_001_999_999, data: Buffer.alloc(0) },
]

test('tells the formats apart by their first bytes', () => {
  assert.deepEqual(sniffFormat(pcapFile([])), { format: 'pcap', littleEndian: true, nanosecond: false })
  assert.deepEqual(sniffFormat(pcapFile([], { bigEndian: true, nanosecond: true })), { format: 'pcap', littleEndian: false, nanosecond: true })
  assert.equal(sniffFormat(pcapngFile([], []))?.format, 'pcapng')
  assert.equal(sniffFormat(Buffer.from([0x1f, 0x8b, 8, 0]))?.format, 'gzip')
  assert.equal(sniffFormat(Buffer.from('{"seq":1}'))?.format, 'jsonl')
  assert.equal(sniffFormat(Buffer.from('GIF89a'))?.format, 'unknown')
  assert.equal(sniffFormat(Buffer.from('ab')), null)
})

for (const variant of [{}, { bigEndian: true }, { nanosecond: true }, { nanosecond: true, bigEndian: true }]) {
  test(`reads classic pcap ${JSON.stringify(variant)} split at every offset`, () => {
    const file = pcapFile(recs, { ...variant, linkType: 113 })
    const header = parsePcapHeader(file)
    assert.ok(typeof header !== 'string')
    assert.equal(header.linkType, 113)
    for (let cut = 0; cut <= file.length; cut++) {
      const r = new PcapReader()
      const got = [...r.push(file.subarray(0, cut)), ...r.push(file.subarray(cut))]
      assert.equal(r.end(), null, `cut ${cut}`)
      assert.deepEqual(got.map((x) => [x.tsUs, x.data.toString(), x.origLength, x.linkType]),
        recs.map((x) => [x.tsUs, x.data.toString(), x.origLength ?? x.data.length, 113]), `cut ${cut}`)
    }
  })
}

test('pcap-parser and our reader agree on microsecond files in both byte orders', () => {
  for (const bigEndian of [false, true]) {
    const file = pcapFile(recs, { bigEndian })
    const feed = Object.assign(new EventEmitter(), { pause(): void {}, resume(): void {} })
    const got: Array<[number, string]> = []
    pcapParser.parse(feed).on('packet', (p) => got.push([p.header.timestampSeconds * 1e6 + p.header.timestampMicroseconds, p.data.toString()]))
    feed.emit('data', file)
    const ours = new PcapReader().push(file).map((r) => [r.tsUs, r.data.toString()])
    assert.deepEqual(got, ours)
  }
})

test('a cut-off file says which record is incomplete, after returning the whole ones', () => {
  const file = pcapFile(recs)
  const r = new PcapReader()
  assert.equal(r.push(file.subarray(0, file.length - 16 - 2)).length, 1)
  assert.equal(r.end()!.message, 'capture truncated: record 2 has 4 of its 6 bytes')
  const inHeader = new PcapReader()
  assert.equal(inHeader.push(file.subarray(0, file.length - 10)).length, 2)
  assert.match(inHeader.end()!.message, /inside the header of record 3/)
  const h = new PcapReader()
  h.push(file.subarray(0, 10))
  assert.match(h.end()!.message, /inside the pcap header/)
})

test('a damaged record length stops the reader with a message', () => {
  const file = pcapFile(recs)
  file.writeUInt32LE(0x7fffffff, 24 + 16 + recs[0]!.data.length + 8)
  const r = new PcapReader()
  assert.equal(r.push(file).length, 1)
  assert.match(r.issue!.message, /claims 2147483647 bytes/)
})

test('reads pcapng: several interfaces, resolutions, simple packets, both byte orders, split anywhere', () => {
  for (const bigEndian of [false, true]) {
    const file = pcapngFile([{ linkType: 1 }, { linkType: 113, tsresol: 9 }], [
      { iface: 0, tsUs: 1_000_000_000_123_456, data: Buffer.from('eth') },
      { iface: 1, tsUs: 1_000_000_001_654_321, data: Buffer.from('cooked'), origLength: 99 },
      { iface: 0, tsUs: 0, data: Buffer.from('simple'), simple: true },
    ], bigEndian)
    for (let cut = 0; cut <= file.length; cut += 3) {
      const r = new PcapngReader()
      const got = [...r.push(file.subarray(0, cut)), ...r.push(file.subarray(cut))]
      assert.equal(r.end(), null)
      assert.deepEqual(got.map((x) => [x.linkType, x.tsUs, x.data.toString(), x.origLength]), [
        [1, 1_000_000_000_123_456, 'eth', 3],
        [113, 1_000_000_001_654_321, 'cooked', 99],
        [1, 1_000_000_001_654_321, 'simple', 6],
      ], `big-endian ${bigEndian}, cut ${cut}`)
      assert.deepEqual([...r.linkTypes], [1, 113])
    }
  }
})

test('pcapng damage: bad block length, packet of an undescribed interface, truncation', () => {
  const good = pcapngFile([{ linkType: 1 }], [{ iface: 0, tsUs: 5, data: Buffer.from('x') }, { iface: 0, tsUs: 6, data: Buffer.from('y') }])
  const cut = new PcapngReader()
  assert.equal(cut.push(good.subarray(0, good.length - 5)).length, 1)
  assert.match(cut.end()!.message, /truncated/)
  const bad = Buffer.from(good)
  bad.writeUInt32LE(7, 28 + 20 + 4)
  const r = new PcapngReader()
  r.push(bad)
  assert.match(r.issue!.message, /damaged/)
  const orphan = pcapngFile([], [{ iface: 3, tsUs: 1, data: Buffer.from('z') }])
  const o = new PcapngReader()
  assert.equal(o.push(orphan).length, 0)
  assert.match(o.issue!.message, /interface 3/)
})
