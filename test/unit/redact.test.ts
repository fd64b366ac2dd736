import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent, Side } from '../../src/protocol/events.js'
import { Redactor } from '../../src/sinks/redact.js'

const one = (from: Side, text: string): CommandEvent => new MsnpDecoder(from).push(Buffer.from(text, 'utf8'))[0] as CommandEvent

test('login secrets are replaced by same-length pseudonyms of the same shape, stable within a run', () => {
  const r = new Redactor(Buffer.alloc(32, 7))
  const md5 = one('client', 'USR 6 MD5 S 3b2f1e0c9a8d7b6e5f4a3b2c1d0e9f8a\r\n')
  const masked = r.redact(md5)!
  assert.notEqual(masked.args[2], md5.args[2])
  assert.equal(masked.raw.length, md5.raw.length)
  assert.match(masked.args[2]!, /^[0-9a-z]{32}$/)
  const twn = one('client', 'USR 4 TWN S t=abcDEF123&p=XYZ789\r\n')
  const t2 = r.redact(twn)!
  assert.match(t2.args[2]!, /^t=[a-z]{3}[A-Z]{3}\d{3}&p=[A-Z]{3}\d{3}$/)
  const sso = one('client', 'USR 3 SSO S t=tok AQAAAAIAAGYD {7a3b9c2d-0000-4c1a-9d8e-112233445566}\r\n')
  const s2 = r.redact(sso)!
  assert.notEqual(s2.args[3], sso.args[3], 'the MBI response')
  assert.equal(s2.args[4], sso.args[4], 'the machine GUID is not a secret')
  assert.equal(r.redact(one('client', 'USR 3 TWN I alice@example.com\r\n')), null)
})

test('a switchboard cookie gets the same pseudonym in XFR, USR, RNG and ANS', () => {
  const r = new Redactor()
  const xfr = r.redact(one('server', 'XFR 12 SB 192.0.2.77:1863 CKI 1717171717.29482.12345\r\n'))!
  const usr = r.redact(one('client', 'USR 1 alice@example.com 1717171717.29482.12345\r\n'))!
  assert.equal(xfr.args[3], usr.args[1])
  assert.notEqual(usr.args[1], '1717171717.29482.12345')
  assert.match(usr.args[1]!, /^\d{10}\.\d{5}\.\d{5}$/)
  const rng = r.redact(one('server', 'RNG 11752099 192.0.2.77:1863 CKI 849102291.520491113.5811 alice@example.com Alice\r\n'))!
  const ans = r.redact(one('client', 'ANS 1 bob@example.net 849102291.520491113.5811 11752099\r\n'))!
  assert.equal(rng.args[3], ans.args[1])
  assert.equal(ans.args[2], '11752099', 'the session id is kept')
})

test('profile authentication headers and invitation AuthCookies are masked inside payloads, lengths kept', () => {
  const r = new Redactor()
  const body = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1118234602\r\nMSPAuth: 7Jq2bK9sec*ret$\r\nClientIP: 192.0.2.99\r\n\r\n'
  const profile = one('server', `MSG Hotmail Hotmail ${Buffer.byteLength(body)}\r\n${body}`)
  const p = r.redact(profile)!
  assert.equal(p.payloadLength, profile.payloadLength)
  assert.ok(!p.payloadRaw!.includes('7Jq2bK9sec'))
  assert.ok(p.payloadRaw!.includes('LoginTime: 1118234602'), 'other headers are kept')
  const inv = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\nInvitation-Command: ACCEPT\r\nInvitation-Cookie: 12345\r\nIP-Address: 192.0.2.5\r\nPort: 6891\r\nAuthCookie: 998877665\r\n\r\n'
  const accept = r.redact(one('client', `MSG 7 N ${Buffer.byteLength(inv)}\r\n${inv}`))!
  assert.ok(!accept.payloadRaw!.includes('998877665'))
  assert.ok(accept.payloadRaw!.includes('Invitation-Cookie: 12345'))
})
