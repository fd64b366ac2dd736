// Field decoding of presence (CHG ILN NLN FLN), personal messages (UUX UBX), unified
// notifications (UUN UBN) and interop commands (UUM UBM VAS), per dialect layout; capability
// flags, MSNObjects and the URL-decoding of names.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addCapabilities, capabilityNames, CLIENT_CAPABILITIES, extendedCapabilityNames } from '../../src/protocol/capabilities.js'
import type { Fields } from '../../src/protocol/events.js'
import { urlDecode } from '../../src/protocol/fields/common.js'
import { msnObjectAttributes } from '../../src/protocol/fields/presence.js'
import { decode, fields } from '../helpers/decode.js'


const MSNOBJ = '%3Cmsnobj%20Creator%3D%22bob%40example.net%22%20Size%3D%228712%22%20Type%3D%223%22%20Location%3D%22TFR3A.dat%22%20Friendly%3D%22AAA%3D%22%20SHA1D%3D%22Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D%22%20SHA1C%3D%22cXV4YmF6YmFyZm9vMDk4NzY1NDMyMQ%3D%3D%22%2F%3E'
const MSNOBJ_XML = '<msnobj Creator="bob@example.net" Size="8712" Type="3" Location="TFR3A.dat" Friendly="AAA=" SHA1D="Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==" SHA1C="cXV4YmF6YmFyZm9vMDk4NzY1NDMyMQ=="/>'
const MSNOBJ_INFO = {
  creator: 'bob@example.net', size: 8712, type: 3, typeName: 'display picture', location: 'TFR3A.dat',
  friendly: 'AAA=', friendlyName: '', sha1d: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', sha1c: 'cXV4YmF6YmFyZm9vMDk4NzY1NDMyMQ==',
}
// 0x50000024: MSNC5 (7.5) with ink (GIF) and multi-packet messages
const CAPS_75 = { capabilities: 1342177316, capabilityFlags: ['inkGif', 'multiPacket'], msnc: 5, clientVersion: '7.5' }
// 0xA63CD03C:0x30, WLM 2009
const CAPS_2009 = {
  capabilities: 2789003324,
  capabilityFlags: ['inkGif', 'inkIsf', 'webcam', 'multiPacket', 'spaces', 'directIm', 'winks', 'voiceClips',
    'secureChannel', 'sipInvite', 'multiVideoVoice', 'p2pTurn', 'p2pBootstrapViaUun'],
  msnc: 10, clientVersion: '14.0', extendedCapabilities: 48, extendedCapabilityFlags: ['rtcVideo', 'p2pV2'],
}

test('CHG: status alone, with caps (8), with an MSNObject (9+), with caps:extcaps (18)', () => {
  assert.deepEqual(fields('CHG 9 NLN', 'client', 7), { status: 'NLN', statusName: 'online' })
  assert.deepEqual(fields('CHG 9 BSY 0', 'client', 8), {
    status: 'BSY', statusName: 'busy', capabilities: 0, capabilityFlags: [], msnc: 0, clientVersion: '5.0',
  })
  assert.deepEqual(fields('CHG 9 NLN 1342177316 0', 'server', 12), { status: 'NLN', statusName: 'online', ...CAPS_75 })
  assert.deepEqual(fields('CHG 13 NLN 2789003324:48 0', 'client', 18), { status: 'NLN', statusName: 'online', ...CAPS_2009 })
  assert.deepEqual(fields(`CHG 13 HDN 1342177316 ${MSNOBJ}`, 'client', 12), {
    status: 'HDN', statusName: 'appear offline', ...CAPS_75, msnObject: MSNOBJ_XML, msnObjectInfo: MSNOBJ_INFO,
  })
  assert.equal(fields('CHG 0 IDL 0', 'server', 8).unsolicited, true)
})

test('every status code has its name', () => {
  const names: Record<string, string> = {
    NLN: 'online', BSY: 'busy', IDL: 'idle', BRB: 'be right back', AWY: 'away', PHN: 'on the phone',
    LUN: 'out to lunch', HDN: 'appear offline', FLN: 'offline',
  }
  for (const [code, name] of Object.entries(names)) assert.equal(fields(`CHG 3 ${code}`, 'client', 7).statusName, name)
  assert.deepEqual(fields('CHG 3 XYZ', 'client', 7), { status: 'XYZ' })
})

test('NLN in every dialect layout', () => {
  assert.deepEqual(fields('NLN AWY bob@example.net Bob', 'server', 7), {
    status: 'AWY', statusName: 'away', account: 'bob@example.net', displayName: 'Bob',
  })
  assert.deepEqual(fields('NLN NLN bob@example.net Bob%20B. 268435492', 'server', 8), {
    status: 'NLN', statusName: 'online', account: 'bob@example.net', displayName: 'Bob B.',
    capabilities: 268435492, capabilityFlags: ['inkGif', 'multiPacket'], msnc: 1, clientVersion: '6.0',
  })
  assert.deepEqual(fields(`NLN NLN bob@example.net Bob 1342177316 ${MSNOBJ}`, 'server', 12), {
    status: 'NLN', statusName: 'online', account: 'bob@example.net', displayName: 'Bob', ...CAPS_75,
    msnObject: MSNOBJ_XML, msnObjectInfo: MSNOBJ_INFO,
  })
  assert.deepEqual(fields('NLN BRB bob@example.net 1 Bob 1342177316 0 http%3A%2F%2Fexample.invalid%2Fi.png', 'server', 14), {
    status: 'BRB', statusName: 'be right back', account: 'bob@example.net', networkId: 1, networkName: 'messenger',
    displayName: 'Bob', ...CAPS_75, iconUrl: 'http://example.invalid/i.png',
  })
  assert.deepEqual(fields('NLN NLN bob@yahoo.example 32 Bob 0 0', 'server', 15), {
    status: 'NLN', statusName: 'online', account: 'bob@yahoo.example', networkId: 32, networkName: 'yahoo', displayName: 'Bob',
    capabilities: 0, capabilityFlags: [], msnc: 0, clientVersion: '5.0',
  })
  assert.deepEqual(fields(`NLN NLN 1:bob@example.net Bob 2789003324:48 ${MSNOBJ}`, 'server', 18), {
    status: 'NLN', statusName: 'online', networkId: 1, networkName: 'messenger', account: 'bob@example.net', displayName: 'Bob',
    ...CAPS_2009, msnObject: MSNOBJ_XML, msnObjectInfo: MSNOBJ_INFO,
  })
  assert.deepEqual(fields('NLN AWY 1:bob@example.net Bob 2789003324:48 0', 'server', 18), {
    status: 'AWY', statusName: 'away', networkId: 1, networkName: 'messenger', account: 'bob@example.net', displayName: 'Bob', ...CAPS_2009,
  })
})

test('NLN with the dialect unknown is read by its shape', () => {
  const old = fields('NLN NLN bob@example.net 7 268435492', 'server')
  assert.equal(old.displayName, '7', 'a numeric name in the short layout stays a name')
  assert.equal(old.networkId, undefined)
  const wlm = fields('NLN NLN bob@example.net 1 Bob 1342177316 0', 'server')
  assert.equal(wlm.networkId, 1)
  assert.equal(wlm.displayName, 'Bob')
  assert.equal(wlm.capabilities, 1342177316)
})

test('ILN in every dialect layout keeps the TrID of the CHG', () => {
  const e = decode('ILN 9 BSY bob@example.net Bob', 'server', 7)
  assert.equal(e.trId, 9)
  assert.deepEqual(e.fields, { status: 'BSY', statusName: 'busy', account: 'bob@example.net', displayName: 'Bob' })
  assert.deepEqual(fields('ILN 9 NLN bob@example.net Bob 268435492', 'server', 8), {
    status: 'NLN', statusName: 'online', account: 'bob@example.net', displayName: 'Bob',
    capabilities: 268435492, capabilityFlags: ['inkGif', 'multiPacket'], msnc: 1, clientVersion: '6.0',
  })
  assert.deepEqual(fields(`ILN 9 NLN bob@example.net Bob 1342177316 ${MSNOBJ}`, 'server', 12), {
    status: 'NLN', statusName: 'online', account: 'bob@example.net', displayName: 'Bob', ...CAPS_75,
    msnObject: MSNOBJ_XML, msnObjectInfo: MSNOBJ_INFO,
  })
  assert.deepEqual(fields('ILN 9 IDL bob@example.net 1 Bob 1342177316 0', 'server', 14), {
    status: 'IDL', statusName: 'idle', account: 'bob@example.net', networkId: 1, networkName: 'messenger', displayName: 'Bob', ...CAPS_75,
  })
  assert.deepEqual(fields('ILN 9 NLN 1:bob@example.net Bob 2789003324:48 0', 'server', 18), {
    status: 'NLN', statusName: 'online', networkId: 1, networkName: 'messenger', account: 'bob@example.net', displayName: 'Bob', ...CAPS_2009,
  })
})

test('FLN in every dialect layout', () => {
  assert.deepEqual(fields('FLN bob@example.net', 'server', 7), { account: 'bob@example.net' })
  assert.deepEqual(fields('FLN bob@example.net 1', 'server', 14), { account: 'bob@example.net', networkId: 1, networkName: 'messenger' })
  assert.deepEqual(fields('FLN bob@example.net 1 1342177316', 'server', 16), {
    account: 'bob@example.net', networkId: 1, networkName: 'messenger', ...CAPS_75,
  })
  assert.deepEqual(fields('FLN 1:carol@example.org', 'server', 18), { networkId: 1, networkName: 'messenger', account: 'carol@example.org' })
  assert.deepEqual(fields('FLN 32:dave@yahoo.example 0:0', 'server', 18), {
    networkId: 32, networkName: 'yahoo', account: 'dave@yahoo.example',
    capabilities: 0, capabilityFlags: [], msnc: 0, clientVersion: '5.0', extendedCapabilities: 0, extendedCapabilityFlags: [],
  })
})

test('UUX and UBX lines (the XML payloads are decoded elsewhere)', () => {
  const xml = '<Data><PSM>At lunch</PSM><CurrentMedia></CurrentMedia></Data>'
  assert.deepEqual(fields(`UUX 10 ${xml.length}`, 'client', 11, xml), {})
  const ack = decode('UUX 10 0', 'server', 11)
  assert.equal(ack.payloadLength, 0)
  assert.deepEqual(ack.fields, {})
  assert.deepEqual(fields(`UBX bob@example.net ${xml.length}`, 'server', 12, xml), { account: 'bob@example.net' })
  assert.deepEqual(fields(`UBX bob@example.net 1 ${xml.length}`, 'server', 14, xml), {
    account: 'bob@example.net', networkId: 1, networkName: 'messenger',
  })
  assert.deepEqual(fields(`UBX 1:bob@example.net ${xml.length}`, 'server', 18, xml), {
    networkId: 1, networkName: 'messenger', account: 'bob@example.net',
  })
  const empty = decode('UBX 1:bob@example.net 0', 'server')
  assert.equal(empty.payloadLength, 0)
  assert.equal(empty.fields.account, 'bob@example.net')
})

test('UUN, UBN, UUM, UBM and VAS lines', () => {
  assert.deepEqual(fields('UUN 30 bob@example.net 6 9', 'client', 15, 'goodbye!!'), {
    account: 'bob@example.net', type: 6, typeName: 'resynchronise',
  })
  assert.deepEqual(fields('UUN 30 1:bob@example.net 12 3', 'client', 18, 'abc'), {
    networkId: 1, networkName: 'messenger', account: 'bob@example.net', type: 12, typeName: 'tunnelled SIP',
  })
  assert.deepEqual(fields('UUN 30 OK', 'server', 15), { ok: true })
  assert.deepEqual(fields('UBN bob@example.net 6 9', 'server', 15, 'goodbye!!'), { account: 'bob@example.net', type: 6, typeName: 'resynchronise' })
  assert.deepEqual(fields('UBN bob@example.net 99 0', 'server', 15), { account: 'bob@example.net', type: 99 })
  assert.deepEqual(fields('UUM 33 bob@yahoo.example 32 1 2', 'client', 14, 'hi'), {
    account: 'bob@yahoo.example', networkId: 32, networkName: 'yahoo', type: 1, typeName: 'text',
  })
  assert.deepEqual(fields('UBM bob@yahoo.example 32 alice@example.com 1 1 2', 'server', 14, 'hi'), {
    account: 'bob@yahoo.example', networkId: 32, networkName: 'yahoo', to: 'alice@example.com', toNetworkId: 1,
    toNetworkName: 'messenger', type: 1, typeName: 'text',
  })
  assert.deepEqual(fields('VAS 34 spammer@example.net 1 0 7', 'client', 16, '<x></x>'), {
    account: 'spammer@example.net', networkId: 1, networkName: 'messenger',
  })
  assert.deepEqual(fields('VAS 34', 'server', 16), { accepted: true })
})

test('capability numbers: flags by name, the version nibble, extended flags', () => {
  assert.equal(CLIENT_CAPABILITIES.length, new Set(CLIENT_CAPABILITIES.map(([b]) => b)).size)
  for (const [bit, name] of CLIENT_CAPABILITIES) assert.deepEqual(capabilityNames(bit), [name], name)
  assert.deepEqual(capabilityNames(0xf0000000), [], 'the version nibble is not a flag')
  assert.deepEqual(capabilityNames(0x00000001 | 0x00000010 | 0x00040000), ['mobileOnline', 'webcam', 'voiceClips'])
  assert.deepEqual(extendedCapabilityNames(0x80000400), ['nudge', 'multiUserChat'])
  const f: Fields = {}
  assert.equal(addCapabilities(f, '2952790016'), true) // 0xB0000000
  assert.deepEqual(f, { capabilities: 2952790016, capabilityFlags: [], msnc: 11, clientVersion: '15.0' })
  const g: Fields = {}
  assert.equal(addCapabilities(g, String(0xf0000000)), true)
  assert.equal(g.msnc, 15)
  assert.equal(g.clientVersion, undefined)
  for (const bad of ['abc', '12:x', '', ':5', '99999999999']) {
    const h: Fields = {}
    assert.equal(addCapabilities(h, bad), false, bad)
    assert.deepEqual(h, {}, bad)
  }
})

test('URL-decoding of names leaves undecodable escapes as written', () => {
  assert.equal(urlDecode('Alice%20A.'), 'Alice A.')
  assert.equal(urlDecode('plain+name'), 'plain+name')
  assert.equal(urlDecode('Bob%20%E2%80%94%20away'), 'Bob — away')
  assert.equal(urlDecode('Bob%E9'), 'Bob%E9')
  assert.equal(urlDecode('100%'), '100%')
  assert.equal(urlDecode('%ZZtop%2'), '%ZZtop%2')
  assert.equal(urlDecode('A%41%E9%42%20%F0%9F%98%80'), 'AA%E9B 😀')
  assert.equal(urlDecode('%E2%80'), '%E2%80', 'a truncated sequence stays')
  assert.equal(fields('NLN NLN bob@example.net Bob%E9%20Z 268435492', 'server', 8).displayName, 'Bob%E9 Z')
})

test('MSNObjects: the decoded XML always, its attributes when simple', () => {
  assert.deepEqual(msnObjectAttributes(MSNOBJ_XML), {
    Creator: 'bob@example.net', Size: '8712', Type: '3', Location: 'TFR3A.dat', Friendly: 'AAA=',
    SHA1D: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', SHA1C: 'cXV4YmF6YmFyZm9vMDk4NzY1NDMyMQ==',
  })
  assert.deepEqual(msnObjectAttributes("<msnobj Creator='a&amp;b@example.net' Type=\"2\" />"), { Creator: 'a&b@example.net', Type: '2' })
  assert.equal(msnObjectAttributes('<other/>'), undefined)
  assert.equal(msnObjectAttributes('<msnobj Creator="x'), undefined)
  // a named emoticon: Friendly is base64 of the UTF-16LE name with its NUL
  const friendly = Buffer.from('Sun\0', 'utf16le').toString('base64')
  const token = encodeURIComponent(`<msnobj Creator="bob@example.net" Size="1" Type="2" Location="0" Friendly="${friendly}" SHA1D="x"/>`)
  const f = fields(`CHG 5 NLN 0 ${token}`, 'client', 9)
  assert.deepEqual(f.msnObjectInfo, {
    creator: 'bob@example.net', size: 1, type: 2, typeName: 'custom emoticon', location: '0', friendly, friendlyName: 'Sun', sha1d: 'x',
  })
  // not the simple shape: the XML only
  const odd = fields(`CHG 5 NLN 0 ${encodeURIComponent('<msnobj Creator')}`, 'client', 9)
  assert.equal(odd.msnObject, '<msnobj Creator')
  assert.equal(odd.msnObjectInfo, undefined)
  // the same object seen twice decodes to equal fields
  assert.deepEqual(fields(`CHG 6 NLN 0 ${token}`, 'client', 9), f)
})
