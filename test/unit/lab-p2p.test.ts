import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent } from '../../src/protocol/events.js'
import { decodeP2PHeader, p2pAckHeader, p2pMessage, parseP2PMessage, slpInvite } from '../../src/lab/p2p.js'
import { VECTORS, itemBytes } from '../helpers/vectors.js'

const tv7 = VECTORS.TV7 as { dir: 'C' | 'S'; hex: string }[]
const payloadOf = (i: number): Buffer => {
  const ev = new MsnpDecoder('client', { dialect: 12, decode: false }).push(itemBytes(tv7[i]!))[0] as CommandEvent
  return ev.payloadRaw!
}

const MSNOBJ = '<msnobj Creator="bob@example.net" Size="8712" Type="3" Location="TFR3A.dat" Friendly="AAA=" SHA1D="Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="/>'

test('the display-picture INVITE is built byte for byte as in TV7', () => {
  const slp = slpInvite({
    from: 'alice@example.com', to: 'bob@example.net', msnobj: MSNOBJ, sessionId: 3175662,
    branch: '{6F2A81B3-4C3D-4E7A-9D2B-1C0F8E5A7B90}', callId: '{B1E0C3D2-5A4F-4E6D-8C7B-9A0F1E2D3C4B}',
  })
  assert.equal(slp.length, 601)
  const header = { sessionId: 0, identifier: 143950009, offset: 0, totalSize: 601, messageLength: 601, flags: 0, ackIdentifier: 13100017, ackUniqueId: 0, ackDataSize: 0 }
  assert.deepEqual(p2pMessage('bob@example.net', header, slp), payloadOf(0))
})

test('the receiver\'s acknowledgement is built as in TV7 and reads back', () => {
  const invite = parseP2PMessage(payloadOf(0))!
  assert.equal(invite.dest, 'bob@example.net')
  assert.equal(invite.appId, 0)
  const ack = p2pMessage('alice@example.com', p2pAckHeader(invite.header, 52870113), Buffer.alloc(0))
  assert.deepEqual(ack, payloadOf(2))
  const back = parseP2PMessage(ack)!
  assert.deepEqual(back.header, decodeP2PHeader(ack.subarray(ack.length - 52))!)
  assert.equal(back.header.flags, 2)
  assert.equal(back.header.ackIdentifier, 143950009)
})

test('truncated or mislabelled P2P payloads are refused', () => {
  const good = payloadOf(0)
  assert.equal(parseP2PMessage(good.subarray(0, good.length - 10)), null)
  assert.equal(parseP2PMessage(Buffer.from('MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi')), null)
  assert.equal(parseP2PMessage(Buffer.alloc(0)), null)
})
