// Field decoding of session setup, authentication, referrals, keep-alive, challenges and error
// replies, through the real decoder (commands.md sections 1-2, redirects.md, errors.md).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeError, ERROR_CODES } from '../../src/protocol/error-codes.js'
import { decode, fields } from '../helpers/decode.js'

/** Decode one command line (plus `payload`, when the command carries one) and return its event. */

test('VER: the client offer lists dialects and CVR0 separately', () => {
  assert.deepEqual(fields('VER 1 MSNP12 MSNP11 CVR0', 'client'), {
    offered: ['MSNP12', 'MSNP11'], offeredVersions: [12, 11], cvr0: true,
  })
  assert.deepEqual(fields('VER 1 msnp8 cvr0', 'client'), { offered: ['msnp8'], offeredVersions: [8], cvr0: true })
  assert.deepEqual(fields('VER 1 MSNP2', 'client'), { offered: ['MSNP2'], offeredVersions: [2], cvr0: false })
})

test('VER: the server names its choice or says there is none', () => {
  assert.deepEqual(fields('VER 1 MSNP12', 'server'), { chosen: 'MSNP12', chosenVersion: 12 })
  assert.deepEqual(fields('VER 1 MSNP8 CVR0', 'server'), { chosen: 'MSNP8', chosenVersion: 8, cvr0: true })
  assert.deepEqual(fields('VER 1 0', 'server'), { noCommonDialect: true })
  assert.deepEqual(fields('VER 1 0 MSNP8 MSNP9', 'server'), {
    noCommonDialect: true, offered: ['MSNP8', 'MSNP9'], offeredVersions: [8, 9],
  })
})

test('CVR and CVQ: client description and server version advice', () => {
  assert.deepEqual(fields('CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs alice@example.com', 'client', 12), {
    locale: '0x0409', localeId: 0x409, os: 'winnt', osVersion: '5.1', arch: 'i386', clientName: 'MSNMSGR',
    clientVersion: '7.5.0324', clientId: 'msmsgs', account: 'alice@example.com',
  })
  // before MSNP8 there is no account
  const old = fields('CVR 3 0x0409 win 4.10 i386 MSMSGS 3.6.0038 MSMSGS', 'client', 6)
  assert.equal(old.clientVersion, '3.6.0038')
  assert.equal(old.account, undefined)
  assert.deepEqual(fields('CVR 2 5.0.0544 5.0.0544 1.0.0863 http://download.example.invalid/msgr/setup.exe http://messenger.example.invalid', 'server', 8), {
    recommended: '5.0.0544', minimum: '1.0.0863',
    downloadUrl: 'http://download.example.invalid/msgr/setup.exe', infoUrl: 'http://messenger.example.invalid',
  })
  const cvq = fields('CVQ 2 0x0409 win 4.10 i386 MSMSGS 3.6.0038 MSMSGS', 'client')
  assert.equal(cvq.os, 'win')
  assert.equal(cvq.clientId, 'MSMSGS')
})

test('INF lists the security packages', () => {
  assert.deepEqual(fields('INF 2', 'client', 7), {})
  assert.deepEqual(fields('INF 2 MD5', 'server', 7), { packages: ['MD5'] })
  assert.deepEqual(fields('INF 2 MD5,CTP', 'server', 2), { packages: ['MD5', 'CTP'] })
})

test('USR MD5 (MSNP2-7): initial, salt, hash, OK with and without the verified flag', () => {
  assert.deepEqual(fields('USR 6 MD5 I alice@example.com', 'client', 7), { scheme: 'MD5', stage: 'I', account: 'alice@example.com' })
  assert.deepEqual(fields('USR 6 MD5 S 1118234567.30312', 'server', 7), { scheme: 'MD5', stage: 'S', salt: '1118234567.30312' })
  assert.deepEqual(fields('USR 7 MD5 S f651d58e332e28da6917fe07d1c8bfc9', 'client', 7), {
    scheme: 'MD5', stage: 'S', response: 'f651d58e332e28da6917fe07d1c8bfc9',
  })
  assert.deepEqual(fields('USR 7 OK alice@example.com Alice%20A. 1', 'server', 7), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.', verified: true,
  })
  assert.deepEqual(fields('USR 7 OK alice@example.com Alice%20A.', 'server', 2), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.',
  })
})

test('USR TWN (MSNP8-14): passport parameters, ticket, OK layouts of 8-9 and 10+', () => {
  assert.deepEqual(fields('USR 6 TWN I alice@example.com', 'client', 8), { scheme: 'TWN', stage: 'I', account: 'alice@example.com' })
  const s = fields('USR 6 TWN S lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1118234600,kpp=1,kv=5,ver=2.1.0173.1,tpf=79cf2f3758728c3fd109fcbee5f446d2', 'server', 8)
  assert.equal(s.scheme, 'TWN')
  assert.equal(s.stage, 'S')
  assert.equal(s.challenge, 'lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1118234600,kpp=1,kv=5,ver=2.1.0173.1,tpf=79cf2f3758728c3fd109fcbee5f446d2')
  assert.deepEqual(s.passportParams, {
    lc: '1033', id: '507', tw: '40', fs: '1', ru: 'http://messenger.msn.com', ct: '1118234600', kpp: '1', kv: '5',
    ver: '2.1.0173.1', tpf: '79cf2f3758728c3fd109fcbee5f446d2',
  })
  assert.deepEqual(fields('USR 7 TWN S t=5Ax!EXAMPLE$$&p=5Bz!EXAMPLE$$', 'client', 8), {
    scheme: 'TWN', stage: 'S', ticket: 't=5Ax!EXAMPLE$$&p=5Bz!EXAMPLE$$',
  })
  assert.deepEqual(fields('USR 7 OK alice@example.com Alice%20A. 1 0', 'server', 8), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.', verified: true, restricted: false,
  })
  assert.deepEqual(fields('USR 7 OK alice@example.com 1 0', 'server', 12), {
    stage: 'OK', account: 'alice@example.com', verified: true, restricted: false,
  })
})

test('USR OK with the dialect unknown is read by its shape', () => {
  assert.deepEqual(fields('USR 7 OK alice@example.com 1 0', 'server'), {
    stage: 'OK', account: 'alice@example.com', verified: true, restricted: false,
  })
  assert.deepEqual(fields('USR 7 OK alice@example.com Alice 0 1', 'server'), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice', verified: false, restricted: true,
  })
  assert.deepEqual(fields('USR 7 OK alice@example.com Alice 1', 'server'), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice', verified: true,
  })
})

test('USR SSO (MSNP15+) and SHA (MSNP18+)', () => {
  assert.deepEqual(fields('USR 3 SSO I alice@example.com', 'client', 15), { scheme: 'SSO', stage: 'I', account: 'alice@example.com' })
  assert.deepEqual(fields('USR 6 SSO S MBI_KEY_OLD CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW', 'server', 18), {
    scheme: 'SSO', stage: 'S', policy: 'MBI_KEY_OLD', nonce: 'CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW',
  })
  assert.deepEqual(fields('USR 7 SSO S t=EwB4AEXAMPLE&p= HAAAAAEAAAADZgAA== {3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}', 'client', 18), {
    scheme: 'SSO', stage: 'S', ticket: 't=EwB4AEXAMPLE&p=', mbiResponse: 'HAAAAAEAAAADZgAA==',
    machineGuid: '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}',
  })
  // MSNP15 has no machine GUID
  const p15 = fields('USR 7 SSO S t=EwB4AEXAMPLE&p= HAAAAAEAAAADZgAA==', 'client', 15)
  assert.equal(p15.mbiResponse, 'HAAAAAEAAAADZgAA==')
  assert.equal(p15.machineGuid, undefined)
  assert.deepEqual(fields('USR 20 SHA A PENpcmNsZVRpY2tldD4=', 'client', 18), { scheme: 'SHA', stage: 'A', ticket: 'PENpcmNsZVRpY2tldD4=' })
})

test('USR on a switchboard: caller account and cookie, then the OK with a friendly name', () => {
  assert.deepEqual(fields('USR 1 alice@example.com 1717171717.29482.12345', 'client', 12), {
    switchboard: true, account: 'alice@example.com', cookie: '1717171717.29482.12345',
  })
  assert.deepEqual(fields('USR 1 alice@example.com;{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718} 1717171717.29482.12345', 'client', 18), {
    switchboard: true, account: 'alice@example.com', endpointGuid: '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}',
    cookie: '1717171717.29482.12345',
  })
  assert.deepEqual(fields('USR 1 OK alice@example.com Alice%20A.', 'server', 12), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.',
  })
  assert.deepEqual(fields('USR 1 OK alice@example.com;{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718} Alice', 'server', 18), {
    stage: 'OK', account: 'alice@example.com', endpointGuid: '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}', friendlyName: 'Alice',
  })
})

test('XFR NS in every dialect layout', () => {
  const target = { kind: 'NS', address: '192.0.2.41:1863', host: '192.0.2.41', port: 1863 }
  assert.deepEqual(fields('XFR 3 NS 192.0.2.41:1863', 'server', 2), target)
  assert.deepEqual(fields('XFR 3 NS 192.0.2.41:1863 0', 'server', 5), { ...target, flags: ['0'] })
  assert.deepEqual(fields('XFR 3 NS 192.0.2.41:1863 0 192.0.2.10:1863', 'server', 7), {
    ...target, flags: ['0'], currentServer: '192.0.2.10:1863',
  })
  assert.deepEqual(fields('XFR 3 NS 192.0.2.43:1863 U D', 'server', 18), {
    kind: 'NS', address: '192.0.2.43:1863', host: '192.0.2.43', port: 1863, flags: ['U', 'D'],
  })
  assert.deepEqual(fields('XFR 3 NS 0', 'server', 8), { kind: 'NS', sameServer: true })
  assert.deepEqual(fields('XFR 3 NS 192.0.2.41', 'server', 2), { kind: 'NS', address: '192.0.2.41', host: '192.0.2.41', port: 1863 })
})

test('XFR SB: request, and the referral with cookie, domain and direct-connect flag', () => {
  assert.deepEqual(fields('XFR 12 SB', 'client', 12), { kind: 'SB' })
  const sb = { kind: 'SB', address: '192.0.2.77:1863', host: '192.0.2.77', port: 1863, authScheme: 'CKI', cookie: '1717171717.29482.12345' }
  assert.deepEqual(fields('XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345', 'server', 12), sb)
  assert.deepEqual(fields('XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345 U messenger.msn.com', 'server', 13), {
    ...sb, domain: 'messenger.msn.com',
  })
  assert.deepEqual(fields('XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345 U messenger.msn.com 1', 'server', 14), {
    ...sb, domain: 'messenger.msn.com', directConnect: true,
  })
  assert.equal(fields('XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345 U messenger.msn.com 0', 'server', 18).directConnect, false)
  assert.deepEqual(fields('XFR 12 SB [2001:db8::7]:1864 CKI c1', 'server', 12), {
    kind: 'SB', address: '[2001:db8::7]:1864', host: '2001:db8::7', port: 1864, authScheme: 'CKI', cookie: 'c1',
  })
})

test('OUT: a reason with its meaning, RCT with minutes', () => {
  assert.deepEqual(fields('OUT', 'client'), {})
  assert.deepEqual(fields('OUT', 'server'), {})
  assert.deepEqual(fields('OUT OTH', 'server'), { reason: 'OTH', reasonMeaning: 'signed in from another location' })
  assert.deepEqual(fields('OUT SSD', 'server'), { reason: 'SSD', reasonMeaning: 'server shutting down' })
  assert.deepEqual(fields('OUT RCT 5', 'server', 11), { reason: 'RCT', reasonMeaning: 'reconnect later', minutes: 5 })
  assert.deepEqual(fields('OUT XYZ', 'server'), { reason: 'XYZ' })
})

test('GCF: the requested file and the pushed policy', () => {
  assert.deepEqual(fields('GCF 7 Shields.xml', 'client', 11), { file: 'Shields.xml' })
  const old = decode('GCF 7 Shields.xml 5', 'server', 11, '<x/>\n')
  assert.equal(old.payloadLength, 5)
  assert.deepEqual(old.fields, { file: 'Shields.xml' })
  const pushed = decode('GCF 0 5', 'server', 13, '<x/>\n')
  assert.deepEqual(pushed.fields, { unsolicited: true })
})

test('SBS, URL, PNG, QNG, CHL and QRY', () => {
  assert.deepEqual(fields('SBS 0 null', 'server', 11), { value: 'null' })
  assert.deepEqual(fields('URL 14 INBOX', 'client', 8), { service: 'INBOX' })
  assert.deepEqual(fields('URL 14 COMPOSE bob@example.net', 'client', 8), { service: 'COMPOSE', param: 'bob@example.net' })
  assert.deepEqual(fields('URL 14 /cgi-bin/HoTMaiL https://login.example.invalid/md5auth.srf?lc=1033 2', 'server', 8), {
    url: '/cgi-bin/HoTMaiL', loginUrl: 'https://login.example.invalid/md5auth.srf?lc=1033', siteId: 2,
  })
  assert.deepEqual(fields('PNG', 'client'), {})
  assert.deepEqual(fields('QNG', 'server', 7), {})
  assert.deepEqual(fields('QNG 45', 'server', 9), { seconds: 45 })
  assert.deepEqual(fields('CHL 0 22210219642164014968', 'server', 11), { challenge: '22210219642164014968' })
  const qry = decode('QRY 11 PROD0090YUAUV{2B 32', 'client', 11, '85ecb0db8f32113df79ce0892b9a102c')
  assert.equal(qry.payloadLength, 32)
  assert.deepEqual(qry.fields, { productId: 'PROD0090YUAUV{2B' })
  assert.deepEqual(fields('QRY 10 msmsgs@msnmsgr.com 32', 'client', 7, '6ac477f63a5f249debc5613af22f3c84'), { productId: 'msmsgs@msnmsgr.com' })
  assert.deepEqual(fields('QRY 11', 'server', 11), { accepted: true })
})

test('error replies carry code, name and meaning, with or without a payload', () => {
  const e241 = decode('241 16 58', 'server', 18, '<ml><d n="example.com"><c n="dave" l="8" t="1" /></d></ml>')
  assert.equal(e241.payloadLength, 58)
  assert.deepEqual(e241.fields, { error: { code: 241, name: 'InvalidXmlData', meaning: 'invalid ADL/RML content' } })
  assert.deepEqual(fields('911 7', 'server', 8), { error: { code: 911, name: 'ERR_AUTHENTICATION_FAILED', meaning: 'authentication failed' } })
  assert.deepEqual(fields('540 11', 'server', 11), { error: { code: 540, name: 'ChallengeResponseFailed', meaning: 'wrong QRY answer to the challenge' } })
  assert.deepEqual(fields('217 2', 'server', 12).error, { code: 217, name: 'NotAcceptingIMs', meaning: 'user offline or not accepting instant messages' })
  const unknown = fields('999 3', 'server') as { error: { code: number; name: string } }
  assert.equal(unknown.error.code, 999)
  assert.equal(unknown.error.name, 'UnknownError')
})

test('the error table covers the ranges of the reference', () => {
  for (const code of [550, 551, 552, 590, 591, 592, 593, 594, 595, 596, 597, 598, 914, 915, 916, 918, 919, 100, 146]) {
    assert.notEqual(describeError(code).name, 'UnknownError', `code ${code}`)
  }
  assert.equal(describeError(500).name, 'ERR_INTERNAL_SERVER')
  assert.equal(describeError(715).name, 'ERR_NOT_EXPECTED')
  assert.ok(ERROR_CODES.size > 120)
  for (const [code, info] of ERROR_CODES) {
    assert.equal(info.code, code)
    assert.ok(code >= 100 && code <= 999)
    assert.ok(info.name.length > 0 && info.meaning.length > 0)
  }
  const names = [...ERROR_CODES.values()].map((i) => i.name)
  assert.equal(new Set(names).size, names.length, 'error names are unique')
})

test('lowercase verbs are decoded like uppercase ones', () => {
  const e = decode('xfr 12 SB 192.0.2.77:1863 CKI abc', 'server', 12)
  assert.deepEqual(e.notes, ['lowercase verb'])
  assert.equal(e.fields.cookie, 'abc')
})
