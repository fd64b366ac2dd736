// Field decoding of switchboard commands, MSG in both forms, NS notifications and invitations,
// the old directory commands and the MSNP21 commands (commands.md sections 6-9), per dialect.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CommandEvent } from '../../src/protocol/events.js'
import { decodeFields, DECODED_VERBS } from '../../src/protocol/fields.js'
import { KNOWN_VERBS } from '../../src/protocol/verbs.js'
import { decode, fields } from '../helpers/decode.js'


const GUID = '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}'
const REFERRAL = { address: '192.0.2.77:1863', host: '192.0.2.77', port: 1863, authScheme: 'CKI', cookie: '849102291.520491113.5811' }

test('MSG from a client: the acknowledgement mode and what it means', () => {
  const modes: Record<string, string> = {
    U: 'no acknowledgement', N: 'NAK only if delivery fails', A: 'ACK or NAK', S: 'ACK only if delivered', D: 'P2P data: ACK or NAK',
  }
  for (const [mode, meaning] of Object.entries(modes)) {
    const e = decode(`MSG 4 ${mode} 2`, 'client', 12, 'hi')
    assert.equal(e.payloadLength, 2)
    assert.deepEqual(e.fields, { ack: mode, ackMeaning: meaning })
  }
  assert.deepEqual(fields('MSG 4 X 0', 'client', 12), { ack: 'X' })
})

test('MSG from the server: sender and decoded name, NS and SB, with an MPOP endpoint', () => {
  assert.deepEqual(fields('MSG Hotmail Hotmail 2', 'server', 8, 'hi'), { sender: 'Hotmail', senderName: 'Hotmail' })
  assert.deepEqual(fields('MSG alice@example.com Alice%20A. 2', 'server', 12, 'hi'), { sender: 'alice@example.com', senderName: 'Alice A.' })
  assert.deepEqual(fields(`MSG alice@example.com;${GUID} Alice 2`, 'server', 18, 'hi'), {
    sender: 'alice@example.com', senderEndpointGuid: GUID, senderName: 'Alice',
  })
})

test('RNG in the layouts of MSNP2-12, 13 and 14+', () => {
  const base = 'RNG 11752099 192.0.2.77:1863 CKI 849102291.520491113.5811 alice@example.com Alice%20A.'
  const expected = { sessionId: '11752099', ...REFERRAL, caller: 'alice@example.com', callerName: 'Alice A.' }
  const e = decode(base, 'server', 12)
  assert.equal(e.trId, null)
  assert.deepEqual(e.fields, expected)
  assert.deepEqual(fields(`${base} U messenger.hotmail.com`, 'server', 13), { ...expected, domain: 'messenger.hotmail.com' })
  assert.deepEqual(fields(`${base} U messenger.hotmail.com 1`, 'server', 14), { ...expected, domain: 'messenger.hotmail.com', directConnect: true })
  assert.deepEqual(fields(`${base} U messenger.hotmail.com 0`, 'server', 18), { ...expected, domain: 'messenger.hotmail.com', directConnect: false })
})

test('CAL and ANS', () => {
  assert.deepEqual(fields('CAL 2 bob@example.net', 'client', 12), { account: 'bob@example.net' })
  assert.deepEqual(fields('CAL 2 RINGING 11752099', 'server', 12), { state: 'RINGING', sessionId: '11752099' })
  assert.deepEqual(fields('ANS 1 bob@example.net 849102291.520491113.5811 11752099', 'client', 12), {
    account: 'bob@example.net', cookie: '849102291.520491113.5811', sessionId: '11752099',
  })
  assert.deepEqual(fields(`ANS 1 bob@example.net;${GUID} 849102291.520491113.5811 11752099`, 'client', 18), {
    account: 'bob@example.net', endpointGuid: GUID, cookie: '849102291.520491113.5811', sessionId: '11752099',
  })
  assert.deepEqual(fields('ANS 1 OK', 'server', 12), { ok: true })
})

test('IRO in the layouts of MSNP2-11, 12+ and 16+', () => {
  const e = decode('IRO 1 1 1 alice@example.com Alice%20A.', 'server', 9)
  assert.equal(e.trId, 1)
  assert.deepEqual(e.fields, { index: 1, total: 1, account: 'alice@example.com', displayName: 'Alice A.' })
  assert.deepEqual(fields('IRO 1 1 2 alice@example.com Alice%20A. 1342177280', 'server', 12), {
    index: 1, total: 2, account: 'alice@example.com', displayName: 'Alice A.',
    capabilities: 1342177280, capabilityFlags: [], msnc: 5, clientVersion: '7.5',
  })
  assert.deepEqual(fields(`IRO 1 2 2 alice@example.com;${GUID} Alice 2789003324:48`, 'server', 18), {
    index: 2, total: 2, account: 'alice@example.com', endpointGuid: GUID, displayName: 'Alice',
    capabilities: 2789003324,
    capabilityFlags: ['inkGif', 'inkIsf', 'webcam', 'multiPacket', 'spaces', 'directIm', 'winks', 'voiceClips',
      'secureChannel', 'sipInvite', 'multiVideoVoice', 'p2pTurn', 'p2pBootstrapViaUun'],
    msnc: 10, clientVersion: '14.0', extendedCapabilities: 48, extendedCapabilityFlags: ['rtcVideo', 'p2pV2'],
  })
})

test('JOI in the layouts of MSNP2-11, 12+ and 16+', () => {
  const e = decode('JOI bob@example.net Bob', 'server', 8)
  assert.equal(e.trId, null)
  assert.deepEqual(e.fields, { account: 'bob@example.net', displayName: 'Bob' })
  assert.deepEqual(fields('JOI bob@example.net Bob 1342177316', 'server', 12), {
    account: 'bob@example.net', displayName: 'Bob', capabilities: 1342177316, capabilityFlags: ['inkGif', 'multiPacket'], msnc: 5, clientVersion: '7.5',
  })
  const mpop = fields(`JOI bob@example.net;${GUID} Bob%20B. 2789003324:48`, 'server', 18)
  assert.equal(mpop.account, 'bob@example.net')
  assert.equal(mpop.endpointGuid, GUID)
  assert.equal(mpop.displayName, 'Bob B.')
  assert.equal(mpop.extendedCapabilities, 48)
})

test('BYE, ACK, NAK and OUT on a switchboard', () => {
  assert.deepEqual(fields('BYE bob@example.net', 'server', 12), { account: 'bob@example.net' })
  assert.deepEqual(fields('BYE bob@example.net 1', 'server', 12), { account: 'bob@example.net', timedOut: true })
  const ack = decode('ACK 4', 'server', 12)
  assert.equal(ack.trId, 4)
  assert.deepEqual(ack.fields, { delivered: true })
  assert.deepEqual(fields('NAK 4', 'server', 12), { delivered: false })
  assert.deepEqual(fields('OUT', 'client', 12), {})
})

test('NS notifications and pager messages: NOT, IPG, PGD', () => {
  const not = decode('NOT 5', 'server', 9, '<x/>\n')
  assert.equal(not.trId, null)
  assert.equal(not.payloadLength, 5)
  assert.deepEqual(not.fields, {})
  assert.deepEqual(fields('IPG 5', 'server', 9, '<x/>\n'), {})
  assert.deepEqual(fields('PGD 35 bob@example.net 1 5', 'client', 9, '<x/>\n'), { account: 'bob@example.net', deviceType: 1, deviceName: 'MSN Mobile' })
  assert.deepEqual(fields('PGD 36 bob@example.net 2 5', 'client', 9, '<x/>\n'), { account: 'bob@example.net', deviceType: 2, deviceName: 'MSN Direct' })
})

test('FND and SND: directory search criteria and results, e-mail invitations', () => {
  assert.deepEqual(fields('FND 40 fname=Bob lname=* city=* state=* country=US', 'client', 5), {
    criteria: { fname: 'Bob', lname: '*', city: '*', state: '*', country: 'US' },
  })
  assert.deepEqual(fields('FND 40 1 2 fname=Bob lname=Smith%20Jr city=Springfield state=IL country=US', 'server', 5), {
    index: 1, total: 2, result: { fname: 'Bob', lname: 'Smith Jr', city: 'Springfield', state: 'IL', country: 'US' },
  })
  assert.deepEqual(fields('FND 40 0 0', 'server', 5), { index: 0, total: 0 })
  assert.deepEqual(fields('SND 41 dave@example.org', 'client', 2), { email: 'dave@example.org' })
  assert.deepEqual(fields('SND 41 dave@example.org 0x0409 MSMSGS', 'server', 4), { email: 'dave@example.org', locale: '0x0409', codebase: 'MSMSGS' })
})

test('MSNP21: SDG, PUT, DEL and NFY lines', () => {
  assert.deepEqual(fields('SDG 22 2', 'client', 21, 'hi'), {})
  assert.deepEqual(fields('SDG 0 2', 'server', 21, 'hi'), { unsolicited: true })
  assert.deepEqual(fields('PUT 24 2', 'client', 21, 'hi'), {})
  assert.deepEqual(fields('PUT 24 OK', 'server', 21), { ok: true })
  const withBody = decode('PUT 24 OK 0', 'server', 21)
  assert.equal(withBody.payloadLength, 0)
  assert.deepEqual(withBody.fields, { ok: true })
  assert.deepEqual(fields('DEL 25 2', 'client', 21, 'hi'), {})
  assert.deepEqual(fields('DEL 25 OK', 'server', 21), { ok: true })
  assert.deepEqual(fields('NFY PUT 2', 'server', 21, 'hi'), { operation: 'PUT' })
  assert.deepEqual(fields('NFY DEL 2', 'server', 21, 'hi'), { operation: 'DEL' })
})

test('verbs whose meaning is unknown, and unknown verbs, decode to nothing', () => {
  for (const line of ['GSB 3', 'LKP 4 bob@example.net', 'IMS 5 ON', 'GET 6 2', 'FSL 7 2', 'ZZZ 1 a b', 'SDC 8 x 2']) {
    const e = decode(line, 'client', 21, line.endsWith(' 2') ? 'hi' : '')
    assert.deepEqual(e.fields, {}, line)
  }
})

test('every verb of the reference except the undocumented ones has a field decoder', () => {
  const undocumented = new Set(['GSB', 'LKP'])
  for (const verb of KNOWN_VERBS) assert.equal(DECODED_VERBS.has(verb), !undocumented.has(verb), verb)
})

test('missing arguments give fewer fields, never an exception', () => {
  for (const verb of [...KNOWN_VERBS, '241', '999']) {
    for (const from of ['client', 'server'] as const) {
      for (const dialect of [null, 2, 8, 12, 14, 18, 21]) {
        for (let n = 0; n <= 10; n++) {
          const args = ['1:x@y;{g}', '%E9', 'OK', '0', 'U', ':', 'N=', '', 'C=', '9'].slice(0, n)
          const cmd: CommandEvent = {
            kind: 'command', from, offset: 0, raw: Buffer.alloc(0), verb, trId: n % 2 === 0 ? 0 : null, args,
            payloadLength: null, payloadRaw: null, fields: {}, payload: null, dialect,
          }
          const f = decodeFields(cmd)
          assert.equal(typeof f, 'object')
          JSON.stringify(f)
        }
      }
    }
  }
})
