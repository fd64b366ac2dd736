import assert from 'node:assert/strict'
import { test } from 'node:test'
import { looksLikeMsnp, parseSocks } from '../../src/transport/socks.js'

test('SOCKS5: greeting and CONNECT by domain name, in one piece and byte by byte', () => {
  const name = Buffer.from('messenger.hotmail.com')
  const bytes = Buffer.concat([Buffer.from([5, 1, 0]), Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([0x07, 0x47]), Buffer.from('VER 1 MSNP8\r\n')])
  const whole = parseSocks(bytes, false)
  assert.ok('request' in whole)
  assert.deepEqual([whole.request.version, whole.request.host, whole.request.port, whole.request.rest.toString()], [5, 'messenger.hotmail.com', 1863, 'VER 1 MSNP8\r\n'])
  assert.deepEqual([...whole.reply!.subarray(0, 2)], [5, 0])
  for (let cut = 1; cut < 3; cut++) assert.ok('need' in parseSocks(bytes.subarray(0, cut), false))
  const afterGreeting = parseSocks(bytes.subarray(0, 5), false)
  assert.ok('need' in afterGreeting && afterGreeting.reply !== undefined)
})

test('SOCKS5: IPv4 and IPv6 targets; unsupported commands and methods are refused with the right codes', () => {
  const v4 = parseSocks(Buffer.from([5, 1, 0, 1, 192, 0, 2, 7, 0x07, 0x47]), true)
  assert.ok('request' in v4 && v4.request.host === '192.0.2.7' && v4.request.port === 1863)
  const v6 = parseSocks(Buffer.concat([Buffer.from([5, 1, 0, 4]), Buffer.from('20010db8000000000000000000000001', 'hex'), Buffer.from([0, 80])]), true)
  assert.ok('request' in v6 && v6.request.host === '2001:db8:0:0:0:0:0:1' && v6.request.port === 80)
  const bind = parseSocks(Buffer.from([5, 2, 0, 1, 192, 0, 2, 7, 0, 80]), true)
  assert.ok('error' in bind && bind.reply.readUInt8(1) === 7)
  const auth = parseSocks(Buffer.from([5, 1, 2]), false)
  assert.ok('error' in auth && auth.reply.equals(Buffer.from([5, 0xff])))
})

test('SOCKS4 and SOCKS4a: IP targets and host names after the user id', () => {
  const s4 = parseSocks(Buffer.from([4, 1, 0x07, 0x47, 192, 0, 2, 9, 0x61, 0]), false)
  assert.ok('request' in s4 && s4.request.host === '192.0.2.9' && s4.request.version === 4)
  const s4a = parseSocks(Buffer.concat([Buffer.from([4, 1, 0x07, 0x47, 0, 0, 0, 1, 0]), Buffer.from('gateway.messenger.hotmail.com\0')]), false)
  assert.ok('request' in s4a && s4a.request.host === 'gateway.messenger.hotmail.com' && s4a.request.port === 1863)
  assert.ok('need' in parseSocks(Buffer.from([4, 1, 0x07, 0x47, 0, 0, 0, 1, 0, 0x67]), false))
  assert.ok('error' in parseSocks(Buffer.from([0x16, 3, 1]), false), 'TLS is not SOCKS')
})

test('MSNP is told apart from other first lines', () => {
  assert.equal(looksLikeMsnp(Buffer.from('VER 1 MSNP8 CVR0\r\n')), true)
  assert.equal(looksLikeMsnp(Buffer.from('USR 1 alice@example.com 1.2.3\r\n')), true)
  assert.equal(looksLikeMsnp(Buffer.from('POST /gateway HTTP/1.1\r\n')), false)
  assert.equal(looksLikeMsnp(Buffer.from('\x16\x03\x01')), false)
})
