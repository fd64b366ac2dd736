// Notification-server payloads that are not MSG: UUX/UBX, ADL/RML/FQY, NOT/IPG, GCF, QRY, error
// replies with a payload, and the MSNP21 multi-part SDG/NFY (TV1-TV3, TV6, TV8, TV9 fixtures).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CommandEvent, DecodedPayload } from '../../src/protocol/events.js'
import { decodePayload } from '../../src/protocol/payload.js'
import { decodeCurrentMedia } from '../../src/protocol/payload-ns.js'
import { itemBytes, VECTORS } from '../helpers/vectors.js'

const cmd = (verb: string): CommandEvent => ({
  kind: 'command', from: 'server', offset: 0, raw: Buffer.alloc(0), verb, trId: null, args: [],
  payloadLength: 0, payloadRaw: null, fields: {}, payload: null, dialect: null,
})
const decode = (verb: string, payload: Buffer | string): DecodedPayload => {
  const p = decodePayload(cmd(verb), typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload)
  assert.ok(p !== null)
  return p
}

/** [verb, payload] of every payload-carrying command of a transcript, in order. */
function payloads(tv: string): Array<[string, Buffer]> {
  const items = VECTORS[tv]
  assert.ok(Array.isArray(items))
  const out: Array<[string, Buffer]> = []
  for (const b of items.map(itemBytes)) {
    const lf = b.indexOf(0x0a)
    if (lf + 1 < b.length) out.push([b.toString('latin1', 0, 3), b.subarray(lf + 1)])
  }
  return out
}

/** The TV9 stream's payload after the given command line. */
function tv9(line: string, length: number): Buffer {
  const stream = Buffer.from((VECTORS.TV9 as { stream_hex: string }).stream_hex, 'hex')
  const at = stream.indexOf(`${line}\r\n`) + line.length + 2
  return stream.subarray(at, at + length)
}

test('TV6: GCF policy, ADL list, three UUX documents, UBX, QRY and the 241 echo', () => {
  const all = payloads('TV6')
  assert.deepEqual(all.map(([v]) => v), ['GCF', 'MSG', 'ADL', 'UUX', 'UUX', 'UBX', 'UUX', 'QRY', 'ADL', '241'])
  const [gcf, , adl, endpoint, priv, ubx, data, qry, , err] = all.map(([v, b]) => decode(v, b))

  assert.equal(gcf!.kind, 'policy')
  assert.match(String(gcf!.text), /^<\?xml version="1.0" encoding="utf-8" \?><Policies>/)
  assert.deepEqual([gcf!.policyTypes, gcf!.clientRules, gcf!.error], [['SHIELDS'], [{ maj: '7', min: '0', minbld: '0', maxbld: '9999', deny: ' ' }], undefined])

  assert.deepEqual(adl, {
    kind: 'contacts', initial: true, contacts: [
      { account: 'bob@example.net', listBits: 3, lists: ['FL', 'AL'], type: 1, network: 'messenger' },
      { account: 'carol@example.org', listBits: 1, lists: ['FL'], type: 1, network: 'messenger' },
    ],
  })
  assert.deepEqual(endpoint, { kind: 'psm', root: 'EndpointData', endpoints: [{ capabilities: '2789003324:48', caps: 2789003324, extCaps: 48 }] })
  assert.deepEqual(priv, { kind: 'psm', root: 'PrivateEndpointData', privateEndpoints: [{ epName: 'ALICE-PC', idle: false, clientType: 1, state: 'NLN' }] })
  assert.deepEqual(ubx, { kind: 'psm', root: 'Data', psm: 'At lunch', currentMedia: null })
  assert.deepEqual(data, { kind: 'psm', root: 'Data', psm: 'Reading specs', machineGuid: '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}', currentMedia: null })
  assert.deepEqual(qry, { kind: 'challenge-response', response: 'a57cb289719a54ea68e0f988a70a6bc4' })
  assert.deepEqual(err, { kind: 'contacts', contacts: [{ account: 'dave@example.com', listBits: 8, lists: ['RL'], type: 1, network: 'messenger' }] })
})

test('TV1-TV3: QRY answers and the MSNP12 UBX/UUX', () => {
  assert.equal(decode('QRY', payloads('TV1').find(([v]) => v === 'QRY')![1]).response, '6ac477f63a5f249debc5613af22f3c84')
  assert.equal(decode('QRY', payloads('TV2').find(([v]) => v === 'QRY')![1]).response, '3fc9c7f913a5f5fa56f29d7ab0015e8f')
  const tv3 = payloads('TV3').filter(([v]) => v !== 'MSG').map(([v, b]) => decode(v, b))
  assert.deepEqual(tv3.map((p) => p.psm ?? p.response), ['At lunch', 'Reading specs', '85ecb0db8f32113df79ce0892b9a102c'])
  assert.match(String(decode('QRY', 'not-an-md5').error), /32 hex digits/)
})

test('TV9: a server ADL push with a friendly name, a NOT notification and an error echoing an <ml>', () => {
  assert.deepEqual(decode('ADL', tv9('ADL 0 67', 67)), {
    kind: 'contacts', contacts: [{ account: 'erin@example.org', type: 1, network: 'messenger', listBits: 8, lists: ['RL'], friendlyName: 'Erin' }],
  })
  assert.deepEqual(decode('NOT', tv9('NOT 158', 158)), {
    kind: 'notification', id: '1', siteId: '0', siteUrl: 'http://example.invalid/',
    to: { pid: '0x1:0x2', name: 'alice@example.com' }, messages: [{ id: '0', body: 'x' }], text: 'x',
  })
  assert.deepEqual((decode('241', tv9('241 16 58', 58)).contacts as unknown[]).length, 1)
})

test('contact lists: RML, FQY without list bits, URL-encoded friendly names, several domains', () => {
  const rml = decode('RML', '<ml><d n="example.net"><c n="bob" l="2" t="1"/><c n="zed" l="4" t="1"/></d></ml>')
  assert.deepEqual((rml.contacts as Array<{ account: string; lists: string[] }>).map((c) => [c.account, c.lists]), [['bob@example.net', ['AL']], ['zed@example.net', ['BL']]])
  assert.equal(rml.initial, undefined)
  const fqy = decode('FQY', '<ml><d n="yahoo.com"><c n="bob" t="32"/></d></ml>')
  assert.deepEqual(fqy.contacts, [{ account: 'bob@yahoo.com', type: 32, network: 'yahoo' }])
  const named = decode('ADL', '<ml><d n="example.org"><c n="erin" l="24" t="4" f="Erin%20%E2%98%85"/></d></ml>')
  assert.deepEqual(named.contacts, [{ account: 'erin@example.org', listBits: 24, lists: ['RL', 'PL'], type: 4, network: 'phone', friendlyName: 'Erin ★' }])
  const notMl = decode('ADL', 'hello')
  assert.deepEqual([notMl.kind, notMl.text, notMl.error], ['bytes', 'hello', 'not an <ml> document'])
  const cut = decode('ADL', '<ml l="1"><d n="example.net"><c n="bob" l="3"')
  assert.equal(cut.kind, 'contacts')
  assert.match(String(cut.error), /unterminated|unclosed/)
})

test('UUX/UBX: CurrentMedia split into its parts, endpoint lists, escaped text', () => {
  const media = '\\0Music\\01\\0{0} - {1}\\0Title\\0Artist\\0Album\\0\\0'
  const p = decode('UBX', `<Data><PSM>fish &amp; chips &lt;3</PSM><CurrentMedia>${media}</CurrentMedia><MachineGuid>{F26D1F07-95E2-403C-BC18-D4BFED493428}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound><Scene></Scene><ColorScheme>-3</ColorScheme></Data>`)
  assert.equal(p.psm, 'fish & chips <3')
  assert.deepEqual(p.currentMedia, { raw: media, type: 'Music', enabled: true, format: '{0} - {1}', fields: ['Title', 'Artist', 'Album'], text: 'Title - Artist' })
  assert.deepEqual([p.ddp, p.scene, p.colorScheme], ['', '', '-3'])
  assert.deepEqual(decodeCurrentMedia('WMP\\0Music\\00\\0{0}\\0Song\\0'), { raw: 'WMP\\0Music\\00\\0{0}\\0Song\\0', application: 'WMP', type: 'Music', enabled: false, format: '{0}', fields: ['Song'], text: 'Song' })
  const multi = decode('UBX', '<Data><PSM></PSM><CurrentMedia></CurrentMedia>' +
    '<EndpointData id="{AAA}"><Capabilities>2789003324:48</Capabilities></EndpointData>' +
    '<EndpointData id="{BBB}"><Capabilities>0:0</Capabilities></EndpointData>' +
    '<PrivateEndpointData id="{AAA}"><EpName>Laptop</EpName><Idle>true</Idle><ClientType>1</ClientType><State>AWY</State></PrivateEndpointData></Data>')
  assert.deepEqual(multi.endpoints, [{ id: '{AAA}', capabilities: '2789003324:48', caps: 2789003324, extCaps: 48 }, { id: '{BBB}', capabilities: '0:0', caps: 0, extCaps: 0 }])
  assert.deepEqual(multi.privateEndpoints, [{ id: '{AAA}', epName: 'Laptop', idle: true, clientType: 1, state: 'AWY' }])
  const broken = decode('UUX', 'not xml at all')
  assert.deepEqual([broken.kind, broken.text], ['psm', 'not xml at all'])
  assert.equal(typeof broken.error, 'string')
})

test('IPG pager message: sender, receiver and body text', () => {
  const p = decode('IPG', '<NOTIFICATION id="0" siteid="111100400" siteurl="http://mobile.example.invalid/"><TO name="alice@example.com" pid="0x1:0x2"><VIA agent="mobile"/></TO>' +
    '<FROM pid="0x3:0x4" name="tel:+15550100"/><MSG pri="1" id="1"><ACTION url="2wayIM.asp"/><SUBSCR url="2wayIM.asp"/><CAT id="110110001"/><BODY lang="1033"><TEXT>running late</TEXT></BODY></MSG></NOTIFICATION>')
  assert.deepEqual(p.to, { name: 'alice@example.com', pid: '0x1:0x2', via: { agent: 'mobile' } })
  assert.deepEqual(p.from, { pid: '0x3:0x4', name: 'tel:+15550100' })
  assert.deepEqual(p.messages, [{ pri: '1', id: '1', actionUrl: '2wayIM.asp', subscriptionUrl: '2wayIM.asp', category: '110110001', body: 'running late' }])
  assert.equal(p.text, 'running late')
  assert.match(String(decode('NOT', '<foo/>').error), /NOTIFICATION/)
})

test('TV8: MSNP21 SDG typing and text, and NFY PUT', () => {
  const [typing, text, nfy] = payloads('TV8').map(([v, b]) => decode(v, b))
  assert.deepEqual(typing, {
    kind: 'multipart',
    routing: {
      headers: { Routing: '1.0', To: '1:bob@example.net', From: '1:alice@example.com;epid={3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}' },
      to: { network: 1, account: 'bob@example.net' },
      from: { network: 1, account: 'alice@example.com', epid: '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}' },
    },
    reliability: { headers: { Reliability: '1.0' } },
    layer: 'messaging', layerVersion: '2.0', contentType: null, mediaType: '',
    headers: { Messaging: '2.0', 'Message-Type': 'Control/Typing', 'Content-Length': '0' },
    messageType: 'Control/Typing',
  })
  assert.deepEqual([text!.messageType, text!.contentType, text!.text], ['Text', 'text/plain; charset=UTF-8', 'hello'])
  assert.deepEqual((text!.format as { font: string }).font, 'Segoe UI')
  assert.deepEqual([nfy!.layer, nfy!.mediaType, nfy!.text, (nfy!.headers as Record<string, string>).NotifType], ['notification', 'application/user+xml', '<user><s n="IM"><Status>NLN</Status></s></user>', 'Partial'])
  assert.deepEqual((nfy!.routing as { from: unknown }).from, { network: 1, account: 'bob@example.net' })
})

test('multi-part payloads: path and via parameters, short bodies, binary bodies, no routing', () => {
  const sdg = decode('SDG', 'Routing: 1.0\r\nTo: 10:00000000-0000-0000-0009-abcdef012345@live.com;path=IM\r\nFrom: 1:bob@example.net;epid={1};via=10:x@live.com\r\n\r\n' +
    'Reliability: 1.0\r\n\r\nMessaging: 2.0\r\nMessage-Type: Text\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 10\r\n\r\nhi')
  assert.deepEqual((sdg.routing as { to: unknown }).to, { network: 10, account: '00000000-0000-0000-0009-abcdef012345@live.com', path: 'IM' })
  assert.deepEqual((sdg.routing as { from: unknown }).from, { network: 1, account: 'bob@example.net', epid: '{1}', via: '10:x@live.com' })
  assert.equal(sdg.text, 'hi')
  assert.match(String(sdg.error), /Content-Length 10, 2 body bytes/)
  // P2P over SDG: a v2 packet (8-byte transport header, 8-byte data header, 4 data bytes), no footer
  const packet = Buffer.from('0800000c000003e8' + '08040001' + '0000004d' + 'deadbeef', 'hex')
  const data = decode('SDG', Buffer.concat([Buffer.from(`Routing: 1.0\r\nTo: 1:bob@example.net\r\nFrom: 1:alice@example.com\r\n\r\nReliability: 1.0\r\n\r\nMessaging: 2.0\r\nMessage-Type: Data\r\nContent-Type: application/x-msnmsgrp2p\r\nContent-Length: ${packet.length}\r\n\r\n`), packet]))
  assert.deepEqual([data.version, data.bodyType, data.dataLength, data.preview, data.appId, data.text], [2, 'data', 4, 'deadbeef', undefined, undefined])
  assert.deepEqual((data.header as { dataHeader: unknown }).dataHeader, { length: 8, tf: 4, tfName: 'msnobject', first: false, packageNumber: 1, sessionId: 77, tlvs: [] })
  const other = decode('SDG', 'Routing: 1.0\r\nTo: 1:a@b.c\r\nFrom: 1:d@e.f\r\n\r\nReliability: 1.0\r\n\r\nMessaging: 2.0\r\nContent-Type: application/octet-stream\r\n\r\n\u0000\u0001\u0002')
  assert.deepEqual([other.dataLength, other.preview, other.text], [3, '000102', undefined])
  const odd = decode('PUT', 'hello world')
  assert.deepEqual([odd.kind, odd.error], ['multipart', 'no Routing block'])
})

test('other payloads are bytes: text when printable UTF-8, a hex preview otherwise', () => {
  assert.deepEqual(decode('PGD', '<TEXT>hi</TEXT>'), { kind: 'bytes', length: 15, text: '<TEXT>hi</TEXT>' })
  assert.deepEqual(decode('UUN', Buffer.from([0, 1, 2, 0xff])), { kind: 'bytes', length: 4, preview: '000102ff' })
  assert.deepEqual(decode('500', 'Internal Error'), { kind: 'bytes', length: 14, text: 'Internal Error' })
  assert.deepEqual(decodePayload(cmd('UBX'), Buffer.alloc(0)), { kind: 'bytes', length: 0 })
  assert.equal(decode('adl', '<ml><d n="a.b"><c n="c" l="1" t="1"/></d></ml>').kind, 'contacts')
})
