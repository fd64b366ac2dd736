import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkMsnpLine, detectStream } from '../../src/pcap/detect.js'

const strict = { midStream: false, lenient: false }
const mid = { midStream: true, lenient: false }
const b = (s: string): Buffer => Buffer.from(s, 'latin1')

test('recognises MSNP from its first command, and which side sent it', () => {
  assert.deepEqual(detectStream(b('VER 1 MSNP8 CVR0\r\n'), strict), { protocol: 'msnp', side: 'client' })
  assert.deepEqual(detectStream(b('USR 93 alice@example.com 1835953129.20013021.2623242\r\n'), strict), { protocol: 'msnp', side: 'client' })
  assert.deepEqual(detectStream(b('MSG 26 U 97\r\nMIME-Version: 1.0\r\n'), strict), { protocol: 'msnp', side: 'client' })
  assert.deepEqual(detectStream(b('JOI bob@example.com Bob\r\n'), strict), { protocol: 'msnp', side: 'server' })
  assert.deepEqual(detectStream(b('XFR 3 NS 192.0.2.41:1863 0\r\n'), strict), { protocol: 'msnp', side: 'server' })
  assert.deepEqual(detectStream(b('VER 1 MSNP8\r\n'), strict), { protocol: 'msnp', side: null })
})

test('waits while the first line could still become a command', () => {
  assert.equal(detectStream(b('V'), strict), null)
  assert.equal(detectStream(b('VER 1 MS'), strict), null)
  assert.equal(detectStream(b('POST /gatew'), strict), null)
})

test('HTTP comes first: GET and PUT are also MSNP verbs', () => {
  assert.deepEqual(detectStream(b('GET /dig/brandInfo.js HTTP/1.1\r\nAccept: */*\r\n'), strict), { protocol: 'http', side: 'client' })
  assert.deepEqual(detectStream(b('POST /gateway/gateway.dll?Action=open HTTP/1.1\r\n'), strict), { protocol: 'http', side: 'client' })
  assert.deepEqual(detectStream(b('HTTP/1.0 200 OK\r\n'), strict), { protocol: 'http', side: 'server' })
})

test('other protocols are not MSNP', () => {
  const others = [
    '\x05\x00\x0b\x03\x10\x00\x00\x00H\x00\x00\x00', // DCE-RPC bind
    '\x00\x00\x00L\xffSMBr', // SMB
    '220 mail.example.com ESMTP Postfix\r\n',
    '220 ProFTPD Server ready.\r\n',
    'USER anonymous\r\n',
    '+OK POP3 ready\r\n',
    'SSH-2.0-OpenSSH_3.6\r\n',
    'ACK garbage here\r\n',
    'MSG 1 U notanumber\r\n',
    'VER x MSNP8\r\n',
  ]
  for (const s of others) assert.equal(detectStream(b(s), strict)?.protocol, 'other', JSON.stringify(s))
})

test('a bare error reply is not enough on an unknown port, but is on 1863', () => {
  assert.equal(detectStream(b('200 1\r\n'), { ...strict, final: true })?.protocol, 'other')
  assert.equal(detectStream(b('200 1\r\n'), strict), null)
  assert.deepEqual(detectStream(b('200 1\r\n'), { midStream: false, lenient: true }), { protocol: 'msnp', side: 'server' })
  assert.deepEqual(detectStream(b('911 4\r\nOUT\r\n'), strict), { protocol: 'msnp', side: 'server' })
})

test('mid-stream: finds a command after the tail of a payload when the next one confirms it', () => {
  const tail = 'ld\r\n\r\nhow are you?'
  const two = `${tail}\r\nMSG alice@example.com Alice 5\r\nhelloMSG alice@example.com Alice 2\r\nhi`
  assert.deepEqual(detectStream(b(two), mid), { protocol: 'msnp', side: 'server' })
  const one = `${tail}\r\nMSG alice@example.com Alice 5\r\nhel`
  assert.equal(detectStream(b(one), mid), null)
  assert.equal(detectStream(b(one), { ...mid, final: true })?.protocol, 'other')
  assert.equal(detectStream(b(one), { midStream: true, lenient: true })?.protocol, 'msnp')
  const binary = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0x0a]), b('random\nmore random bytes'), Buffer.alloc(20000, 0x41)])
  assert.equal(detectStream(binary, mid)?.protocol, 'other')
})

test('checks command lines strictly', () => {
  assert.ok(checkMsnpLine('CHG 9 NLN 1073741868'))
  assert.ok(checkMsnpLine('QRY 11 msmsgs@msnmsgr.com 32'))
  assert.equal(checkMsnpLine('QRY 11 msmsgs@msnmsgr.com xx'), null)
  assert.equal(checkMsnpLine('CHG  9 NLN'), null)
  assert.equal(checkMsnpLine('ZZZ 1 2'), null)
  assert.equal(checkMsnpLine('CHG 9 NLN\x01'), null)
})
