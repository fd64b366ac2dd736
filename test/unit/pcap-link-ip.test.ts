import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatAddress, IpDecoder, newIpView } from '../../src/pcap/ip.js'
import { isSupportedLinkType, LINKTYPE, linkTypeName, networkOffset } from '../../src/pcap/link.js'
import { ethernet, ipv4, ipv6, ipv6Bytes, nullLink, sll, sll2, tcp } from '../helpers/pcap-build.js'

const seg = tcp(3331, 1863, 1, 1, 0x18, Buffer.from('VER 1 MSNP8 CVR0\r\n'))

function decode(linkType: number, frame: Buffer): { src: string; dst: string; payload: string } | null {
  const off = networkOffset(linkType, frame)
  if (off < 0) return null
  const v = newIpView()
  if (!new IpDecoder().decode(frame, off, 0, v)) return null
  return { src: formatAddress(v.data, v.srcOff, v.addrLen), dst: formatAddress(v.data, v.dstOff, v.addrLen), payload: v.data.subarray(v.payloadOff, v.payloadEnd).toString('latin1') }
}

test('finds the IP header behind every supported link layer', () => {
  const v4 = ipv4('192.0.2.1', '203.0.113.5', seg)
  const v6 = ipv6('2001:db8::1', '2001:db8::2', seg)
  const cases: Array<[string, number, Buffer, string]> = [
    ['Ethernet', LINKTYPE.ETHERNET, ethernet(v4), '192.0.2.1'],
    ['Ethernet + 802.1Q', LINKTYPE.ETHERNET, ethernet(v4, { vlan: [10, 20] }), '192.0.2.1'],
    ['Ethernet IPv6', LINKTYPE.ETHERNET, ethernet(v6, { v6: true }), '2001:db8::1'],
    ['SLL', LINKTYPE.LINUX_SLL, sll(v4), '192.0.2.1'],
    ['SLL IPv6', LINKTYPE.LINUX_SLL, sll(v6, true), '2001:db8::1'],
    ['SLL2', LINKTYPE.LINUX_SLL2, sll2(v6, true), '2001:db8::1'],
    ['raw', LINKTYPE.RAW, v4, '192.0.2.1'],
    ['raw IPv6 (229)', LINKTYPE.IPV6, v6, '2001:db8::1'],
    ['BSD null, little-endian', LINKTYPE.NULL, nullLink(v4), '192.0.2.1'],
    ['BSD null, big-endian, IPv6', LINKTYPE.NULL, nullLink(v6, true, false), '2001:db8::1'],
  ]
  for (const [name, lt, frame, src] of cases) {
    const got = decode(lt, frame)
    assert.equal(got?.src, src, name)
    assert.equal(got?.payload, seg.toString('latin1'), name)
  }
})

test('ignores what is not IP and names unsupported link types', () => {
  const arp = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x06]), Buffer.alloc(28)])
  assert.equal(networkOffset(LINKTYPE.ETHERNET, arp), -1)
  assert.equal(networkOffset(LINKTYPE.ETHERNET, Buffer.alloc(5)), -1)
  assert.equal(isSupportedLinkType(105), false)
  assert.equal(linkTypeName(105), 'IEEE 802.11')
  assert.equal(linkTypeName(4242), 'unknown')
})

test('trims Ethernet padding, accepts a zero total length (segmentation offload), reports bytes cut by the snap length', () => {
  const v = newIpView()
  const d = new IpDecoder()
  const padded = Buffer.concat([ipv4('192.0.2.1', '192.0.2.2', tcp(1, 2, 0, 0, 0x10)), Buffer.alloc(6)])
  assert.ok(d.decode(padded, 0, 0, v))
  assert.equal(v.payloadEnd - v.payloadOff, 20)
  const tso = ipv4('192.0.2.1', '192.0.2.2', seg, { totalLength: 0 })
  assert.ok(d.decode(tso, 0, 0, v))
  assert.equal(v.payloadEnd - v.payloadOff, seg.length)
  const cut = ipv4('192.0.2.1', '192.0.2.2', seg).subarray(0, 40)
  assert.ok(d.decode(cut, 0, 0, v))
  assert.equal(v.lost, seg.length - 20)
})

test('reassembles IPv4 fragments in any order', () => {
  const payload = Buffer.concat([tcp(1, 1863, 0, 0, 0x18), Buffer.from('x'.repeat(100))])
  const pieces = [
    ipv4('192.0.2.1', '192.0.2.2', payload.subarray(0, 48), { id: 7, more: true }),
    ipv4('192.0.2.1', '192.0.2.2', payload.subarray(48, 96), { id: 7, more: true, fragOffset: 48 }),
    ipv4('192.0.2.1', '192.0.2.2', payload.subarray(96), { id: 7, fragOffset: 96 }),
  ]
  for (const order of [[0, 1, 2], [2, 0, 1], [1, 2, 0]]) {
    const d = new IpDecoder()
    const v = newIpView()
    const results = order.map((i) => d.decode(pieces[i]!, 0, 0, v))
    assert.deepEqual(results, [false, false, true], `order ${order}`)
    assert.equal(formatAddress(v.data, v.srcOff, 4), '192.0.2.1')
    assert.ok(v.data.subarray(v.payloadOff, v.payloadEnd).equals(payload))
    assert.equal(d.stats.reassembled, 1)
  }
})

test('drops a datagram whose fragments never all arrive, after a while', () => {
  const d = new IpDecoder({ maxAgeUs: 1000 })
  const v = newIpView()
  assert.equal(d.decode(ipv4('192.0.2.1', '192.0.2.2', Buffer.alloc(48), { id: 1, more: true }), 0, 0, v), false)
  assert.equal(d.decode(ipv4('192.0.2.1', '192.0.2.2', Buffer.alloc(48), { id: 2, more: true }), 0, 5000, v), false)
  assert.equal(d.stats.dropped, 1)
})

test('skips IPv6 extension headers and reassembles IPv6 fragments', () => {
  const v = newIpView()
  const withExt = ipv6('2001:db8::1', '2001:db8::2', seg, [[0, Buffer.alloc(6)], [60, Buffer.alloc(14)]])
  assert.ok(new IpDecoder().decode(withExt, 0, 0, v))
  assert.equal(v.protocol, 6)
  assert.equal(v.data.subarray(v.payloadOff, v.payloadEnd).toString('latin1'), seg.toString('latin1'))
  const frag = (off: number, more: boolean, body: Buffer): Buffer => {
    const f = Buffer.alloc(6)
    f.writeUInt16BE(off | (more ? 1 : 0), 0)
    f.writeUInt32BE(99, 2)
    return ipv6('2001:db8::1', '2001:db8::2', body, [[44, f]])
  }
  const d = new IpDecoder()
  // the fragment header is 8 bytes: ipv6() pads its 6-byte body to exactly that
  assert.equal(d.decode(frag(0, true, seg.subarray(0, 16)), 0, 0, v), false)
  assert.equal(d.decode(frag(16, false, seg.subarray(16)), 0, 0, v), true)
  assert.equal(v.protocol, 6)
  assert.equal(v.data.subarray(v.payloadOff, v.payloadEnd).toString('latin1'), seg.toString('latin1'))
})

test('writes IPv6 addresses in their shortest form', () => {
  assert.equal(formatAddress(ipv6Bytes('2001:db8:0:0:1:0:0:1'), 0, 16), '2001:db8::1:0:0:1')
  assert.equal(formatAddress(ipv6Bytes('::1'), 0, 16), '::1')
  assert.equal(formatAddress(ipv6Bytes('2001:db8:1:2:3:4:5:6'), 0, 16), '2001:db8:1:2:3:4:5:6')
})
