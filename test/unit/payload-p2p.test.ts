// application/x-msnmsgrp2p payloads: the TV7 display-picture INVITE and its ACK (exact fixture
// bytes), MSNSLP responses, data chunks, a file-transfer INVITE whose Context names the file,
// P2P v2 headers, and damaged chunks.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CommandEvent, DecodedPayload } from '../../src/protocol/events.js'
import { decodePayload } from '../../src/protocol/payload.js'
import { decodeFileContext } from '../../src/protocol/slp.js'
import { itemBytes, VECTORS } from '../helpers/vectors.js'

const cmd: CommandEvent = {
  kind: 'command', from: 'client', offset: 0, raw: Buffer.alloc(0), verb: 'MSG', trId: 6, args: ['D'],
  payloadLength: 0, payloadRaw: null, fields: {}, payload: null, dialect: 12,
}
const decode = (payload: Buffer): DecodedPayload => {
  const p = decodePayload(cmd, payload)
  assert.ok(p !== null)
  return p
}
const tv7 = (): Buffer[] => {
  const items = VECTORS.TV7
  assert.ok(Array.isArray(items))
  return items.map(itemBytes).map((b) => b.subarray(b.indexOf(0x0a) + 1))
}

const MIME = (dest: string): Buffer => Buffer.from(`MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: ${dest}\r\n\r\n`)

interface V1 { sessionId?: number; identifier?: number; offset?: number; totalSize?: number; flags?: number; ackId?: number; ackUid?: number; ackSize?: number; footer?: number | null }

/** A P2P v1 MSG payload around `body`. */
function p2p(body: Buffer, h: V1 = {}): Buffer {
  const header = Buffer.alloc(48)
  header.writeUInt32LE(h.sessionId ?? 0, 0)
  header.writeUInt32LE(h.identifier ?? 1000, 4)
  header.writeBigUInt64LE(BigInt(h.offset ?? 0), 8)
  header.writeBigUInt64LE(BigInt(h.totalSize ?? body.length), 16)
  header.writeUInt32LE(body.length, 24)
  header.writeUInt32LE(h.flags ?? 0, 28)
  header.writeUInt32LE(h.ackId ?? 77, 32)
  header.writeUInt32LE(h.ackUid ?? 0, 36)
  header.writeBigUInt64LE(BigInt(h.ackSize ?? 0), 40)
  const parts = [MIME('bob@example.net'), header, body]
  if (h.footer !== null) { const f = Buffer.alloc(4); f.writeUInt32BE(h.footer ?? 0); parts.push(f) }
  return Buffer.concat(parts)
}

/** An MSNSLP message: start line, the usual headers, and a body ending in NUL. */
function slp(start: string, contentType: string, body: string, extra = ''): Buffer {
  const b = Buffer.from(`${body}\r\n\0`, 'utf8')
  return Buffer.from(`${start}\r\nTo: <msnmsgr:bob@example.net>\r\nFrom: <msnmsgr:alice@example.com>\r\n` +
    `Via: MSNSLP/1.0/TLP ;branch={11111111-2222-3333-4444-555555555555}\r\nCSeq: 1 \r\nCall-ID: {AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}\r\n` +
    `Max-Forwards: 0\r\nContent-Type: ${contentType}\r\nContent-Length: ${b.length}\r\n${extra}\r\n${b.toString('latin1')}`, 'latin1')
}

test('TV7: display-picture INVITE, header fields, footer and MSNSLP with its MSNObject context', () => {
  const [sent, relayed] = tv7()
  for (const b of [sent!, relayed!]) {
    const p = decode(b)
    assert.equal(p.kind, 'p2p')
    assert.equal(p.contentType, 'application/x-msnmsgrp2p')
    assert.equal(p.dest, 'bob@example.net')
    assert.equal(p.version, 1)
    assert.deepEqual(p.header, {
      sessionId: 0, identifier: 143950009, offset: 0, totalSize: 601, messageSize: 601, flags: 0, flagNames: [],
      ackedIdentifier: 13100017, ackedUniqueId: 0, ackedDataSize: 0,
    })
    assert.deepEqual([p.appId, p.appName, p.bodyType, p.dataLength, p.error], [0, 'msnslp', 'slp', 601, undefined])
    const s = p.slp as Record<string, unknown>
    assert.deepEqual([s.method, s.uri, s.version, s.to, s.from, s.branch, s.callId, s.cseq, s.contentType, s.contentLength], [
      'INVITE', 'MSNMSGR:bob@example.net', 'MSNSLP/1.0', 'bob@example.net', 'alice@example.com',
      '{6F2A81B3-4C3D-4E7A-9D2B-1C0F8E5A7B90}', '{B1E0C3D2-5A4F-4E6D-8C7B-9A0F1E2D3C4B}', 0, 'application/x-msnmsgr-sessionreqbody', 274,
    ])
    assert.equal((s.headers as Record<string, string>)['Max-Forwards'], '0')
    assert.deepEqual([s.eufGuid, s.application, s.sessionId, s.appId, s.partial], ['{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}', 'display-picture', 3175662, 1, undefined])
    assert.deepEqual(s.msnObject, {
      creator: 'bob@example.net', size: 8712, type: 3, typeName: 'display-picture', location: 'TFR3A.dat', friendly: '',
      sha1d: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==',
    })
    assert.deepEqual(Object.keys(s.fields as object), ['EUF-GUID', 'SessionID', 'AppID', 'Context'])
  }
})

test("TV7: Bob's ACK acknowledges Alice's message", () => {
  const p = decode(tv7()[2]!)
  assert.equal(p.dest, 'alice@example.com')
  assert.deepEqual(p.header, {
    sessionId: 0, identifier: 52870113, offset: 0, totalSize: 601, messageSize: 0, flags: 2, flagNames: ['ack'],
    ackedIdentifier: 143950009, ackedUniqueId: 13100017, ackedDataSize: 601,
  })
  assert.deepEqual([p.bodyType, p.dataLength, p.appId, p.slp], ['ack', 0, 0, undefined])
})

test('MSNSLP responses and BYE', () => {
  const ok = decode(p2p(slp('MSNSLP/1.0 200 OK', 'application/x-msnmsgr-sessionreqbody', 'SessionID: 3175662\r\n')))
  const s = ok.slp as Record<string, unknown>
  assert.deepEqual([s.method, s.version, s.status, s.reason, s.sessionId, s.cseq], [undefined, 'MSNSLP/1.0', 200, 'OK', 3175662, 1])
  const decline = decode(p2p(slp('MSNSLP/1.0 603 Decline', 'application/x-msnmsgr-sessionreqbody', 'SessionID: 3175662\r\n'))).slp as Record<string, unknown>
  assert.deepEqual([decline.status, decline.reason], [603, 'Decline'])
  const bye = decode(p2p(slp('BYE MSNMSGR:bob@example.net MSNSLP/1.0', 'application/x-msnmsgr-sessionclosebody', ''))).slp as Record<string, unknown>
  assert.deepEqual([bye.method, bye.contentType, bye.fields], ['BYE', 'application/x-msnmsgr-sessionclosebody', {}])
  const trans = decode(p2p(slp('INVITE MSNMSGR:bob@example.net MSNSLP/1.0', 'application/x-msnmsgr-transreqbody',
    'Bridges: TCPv1\r\nNetID: 2042264192\r\nConn-Type: Port-Restrict-NAT\r\nUPnPNat: false\r\nICF: false\r\nHashed-Nonce: {2B95F56D-9CA0-4B1C-A1AB-6A1C2E0F0A73}\r\nSessionID: 3175662\r\n'))).slp as Record<string, unknown>
  assert.deepEqual(trans.fields, {
    Bridges: 'TCPv1', NetID: '2042264192', 'Conn-Type': 'Port-Restrict-NAT', UPnPNat: 'false', ICF: 'false',
    'Hashed-Nonce': '{2B95F56D-9CA0-4B1C-A1AB-6A1C2E0F0A73}', SessionID: '3175662',
  })
})

/** The 574-byte file-transfer context of messages.md section 6. */
function fileContext(name: string, size: bigint, preview?: Buffer): Buffer {
  const b = Buffer.alloc(574)
  b.writeUInt32LE(574, 0)
  b.writeUInt32LE(2, 4)
  b.writeBigUInt64LE(size, 8)
  b.writeUInt32LE(preview === undefined ? 1 : 0, 16)
  b.write(name, 20, 'utf16le')
  b.writeUInt32LE(0xffffffff, 570)
  return preview === undefined ? b : Buffer.concat([b, preview])
}

const FT_GUID = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}'

test('file-transfer INVITE: the Context gives the file name and size', () => {
  const ctx = fileContext('holiday photo ☀.jpg', 123456789n).toString('base64')
  const body = `EUF-GUID: ${FT_GUID}\r\nSessionID: 9988776\r\nAppID: 2\r\nContext: ${ctx}\r\n`
  const msg = slp('INVITE MSNMSGR:bob@example.net MSNSLP/1.0', 'application/x-msnmsgr-sessionreqbody', body)
  const p = decode(p2p(msg))
  const s = p.slp as Record<string, unknown>
  assert.deepEqual([s.application, s.appId, s.sessionId], ['file-transfer', 2, 9988776])
  assert.deepEqual(s.file, { fileName: 'holiday photo ☀.jpg', fileSize: 123456789, version: 2, hasPreview: false })
  assert.deepEqual([p.fileName, p.fileSize], ['holiday photo ☀.jpg', 123456789])
})

test('a file-transfer INVITE split over chunks still names the file from its first chunk', () => {
  const preview = Buffer.alloc(3000, 0x89)
  const ctx = fileContext('big.zip', 5_000_000_000n, preview).toString('base64')
  const msg = slp('INVITE MSNMSGR:bob@example.net MSNSLP/1.0', 'application/x-msnmsgr-sessionreqbody', `EUF-GUID: ${FT_GUID}\r\nSessionID: 1\r\nAppID: 2\r\nContext: ${ctx}\r\n`)
  const first = msg.subarray(0, 1202)
  const p = decode(p2p(first, { totalSize: msg.length }))
  const s = p.slp as Record<string, unknown>
  assert.equal(s.partial, true)
  assert.deepEqual([p.fileName, p.fileSize], ['big.zip', 5000000000])
  const second = decode(p2p(msg.subarray(1202, 2404), { offset: 1202, totalSize: msg.length }))
  assert.deepEqual([second.bodyType, second.slp, second.dataLength], ['slp-continuation', undefined, 1202])
  assert.deepEqual(decodeFileContext(fileContext('a.txt', 1n, Buffer.alloc(10))), { fileName: 'a.txt', fileSize: 1, version: 2, hasPreview: true, previewLength: 10 })
  assert.match(String(decodeFileContext(Buffer.alloc(8)).error), /at least 20/)
})

test('binary data chunk with NUL bytes: length and a short hex preview, never the bytes', () => {
  const data = Buffer.from([0x00, 0x00, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0xff])
  const p = decode(p2p(data, { sessionId: 3175662, identifier: 143950011, offset: 1202, totalSize: 8712, flags: 0x20, footer: 1 }))
  assert.deepEqual(p.header, {
    sessionId: 3175662, identifier: 143950011, offset: 1202, totalSize: 8712, messageSize: 20, flags: 0x20, flagNames: ['msnobject-data'],
    ackedIdentifier: 77, ackedUniqueId: 0, ackedDataSize: 0,
  })
  assert.deepEqual([p.bodyType, p.dataLength, p.preview, p.appId, p.appName], ['data', 20, '000089504e470d0a1a0a0000000d4948', 1, 'msnobject'])
  assert.equal(JSON.stringify(p).includes('"type":"Buffer"'), false)
  const ft = decode(p2p(Buffer.alloc(1202, 0), { sessionId: 5, flags: 0x1000030, footer: 2 }))
  assert.deepEqual([ft.flagNames, (ft.header as { flagNames: string[] }).flagNames, ft.appName], [undefined, ['file', 'msnobject-data', 'wlm2009'], 'file-transfer'])
  const prep = decode(p2p(Buffer.alloc(4), { sessionId: 3175662, totalSize: 4, footer: 1 }))
  assert.equal(prep.bodyType, 'data-preparation')
  const big = decode(p2p(Buffer.alloc(4, 1), { sessionId: 1, offset: 2 ** 53 + 2, totalSize: 2 ** 53 + 6, footer: 12 }))
  assert.deepEqual([(big.header as { offset: unknown }).offset, (big.header as { totalSize: unknown }).totalSize, big.appName], ['9007199254740994', '9007199254740998', 'display-picture'])
  const noFooter = decode(p2p(Buffer.from('abcd'), { sessionId: 9, footer: null }))
  assert.deepEqual([noFooter.appId, noFooter.dataLength, noFooter.error], [undefined, 4, undefined])
})

test('P2P v2 packets are told apart from v1 by their lengths', () => {
  const body = slp('INVITE MSNMSGR:bob@example.net;{f26d1f07-95e2-403c-bc18-d4bfed493428} MSNSLP/1.0', 'application/x-msnmsgr-sessionreqbody', 'EUF-GUID: {A4268EEC-FEC5-49E5-95C3-F126696BDBF6}\r\nSessionID: 42\r\nAppID: 12\r\n')
  const tlv = Buffer.from([0x01, 0x0c, ...Buffer.alloc(12, 0xab), 0x00, 0x00])
  const header = Buffer.alloc(8)
  header.writeUInt8(8 + tlv.length, 0)
  header.writeUInt8(2, 1)
  header.writeUInt16BE(8 + body.length, 2)
  header.writeUInt32BE(0x1234abcd, 4)
  const dataHeader = Buffer.from([8, 0x01, 0x00, 0x00, 0, 0, 0, 0])
  const payload = Buffer.concat([MIME('bob@example.net;{f26d1f07-95e2-403c-bc18-d4bfed493428}'), header, tlv, dataHeader, body, Buffer.alloc(4)])
  const p = decode(payload)
  assert.equal(p.version, 2)
  const h = p.header as Record<string, unknown>
  assert.deepEqual([h.headerLength, h.opcode, h.opcodeNames, h.messageLength, h.sequence], [24, 2, ['rak'], 8 + body.length, 0x1234abcd])
  assert.deepEqual(h.tlvs, [{ type: 1, name: 'peer-info', value: 'abababababababababababab' }])
  assert.deepEqual(h.dataHeader, { length: 8, tf: 1, tfName: 'control', first: true, packageNumber: 0, sessionId: 0, tlvs: [] })
  assert.deepEqual([p.bodyType, (p.slp as { sessionId: number }).sessionId, p.appId], ['slp', 42, 0])

  const ack = Buffer.alloc(16)
  ack.writeUInt8(16, 0)
  ack.writeUInt16BE(0, 2)
  ack.writeUInt32BE(7, 4)
  ack.writeUInt8(0x02, 8); ack.writeUInt8(4, 9); ack.writeUInt32BE(0x1234abcd + body.length, 10)
  const a = decode(Buffer.concat([MIME('alice@example.com'), ack, Buffer.alloc(4)]))
  assert.deepEqual([a.version, (a.header as { ack: number }).ack, a.bodyType], [2, 0x1234abcd + body.length, 'ack'])
})

test('damaged P2P chunks give an error, never an exception', () => {
  const short = decode(Buffer.concat([MIME('bob@example.net'), Buffer.from('0102030405', 'hex')]))
  assert.deepEqual([short.kind, short.dataLength, short.preview], ['p2p', 0, '0102030405'])
  assert.match(String(short.error), /48 bytes/)
  const whole = p2p(Buffer.alloc(100, 7), { sessionId: 3 })
  const cut = decode(whole.subarray(0, whole.length - 30))
  assert.match(String(cut.error), /announces 100 body bytes, 74 present/)
  assert.equal(cut.dataLength, 74)
  const [invite] = tv7()
  for (let end = 0; end <= invite!.length; end++) {
    const p = decode(invite!.subarray(0, end))
    assert.equal(typeof p.kind, 'string')
  }
  const garbled = Buffer.from(invite!)
  garbled.write('XXXX', 88 + 48 + 300, 'latin1')
  assert.equal(decode(garbled).kind, 'p2p')
})
