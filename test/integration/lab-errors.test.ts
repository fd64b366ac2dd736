/** The lab server answers wrong requests with the error codes a real server uses. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startLabServer, type LabServer, type LabServerOptions } from '../../src/lab/server.js'
import { LabClient } from '../../src/lab/client.js'
import { LabReplyError } from '../../src/lab/wire.js'
import { md5LoginResponse, qryMsnp11 } from '../../src/protocol/challenge.js'
import { WirePeer } from '../helpers/lab-peer.js'

const HOST = '127.0.0.3'
type T = { after: (fn: () => Promise<void>) => void }

async function lab(t: T, options: Partial<LabServerOptions> = {}): Promise<LabServer> {
  const server = await startLabServer({ host: HOST, challenge: 'manual', ...options })
  t.after(() => server.close())
  return server
}

async function peer(t: T, port: number, dialect: number | null = null): Promise<WirePeer> {
  const p = await WirePeer.connect(HOST, port, dialect)
  t.after(async () => p.close())
  return p
}

/** Send one line and return the next command. */
async function ask(p: WirePeer, line: string): Promise<string> {
  p.write(`${line}\r\n`)
  const c = await p.next()
  return [c.verb, ...(c.trId === null ? [] : [String(c.trId)]), ...c.args].join(' ')
}

/** VER, CVR and a TWN login on the NS (MSNP11-12); returns after USR OK, SBS and the profile. */
async function twnLogin(p: WirePeer, dialect: number, account: string): Promise<void> {
  assert.equal(await ask(p, `VER 1 MSNP${dialect} CVR0`), `VER 1 MSNP${dialect}`)
  assert.match(await ask(p, `CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs ${account}`), /^CVR 2 /)
  assert.match(await ask(p, `USR 3 TWN I ${account}`), /^USR 3 TWN S lc=1033,id=507,tw=40/)
  p.write('USR 4 TWN S t=abc&p=def\r\n')
  await p.until('USR', 4)
  await p.until('MSG')
}

test('notification server answers out-of-order and invalid commands with their error codes', async (t) => {
  const server = await lab(t)
  const p = await peer(t, server.ns.port, 12)
  assert.equal(await ask(p, 'CHG 1 NLN 0'), '715 1', 'before VER')
  assert.equal(await ask(p, 'VER 2 MSNP12 CVR0'), 'VER 2 MSNP12')
  assert.equal(await ask(p, 'VER 3 MSNP12 CVR0'), '715 3', 'VER twice')
  assert.equal(await ask(p, 'SYN 4 0 0'), '715 4', 'before login')
  assert.equal(await ask(p, 'USR 5 TWN S t=1&p=2'), '715 5', 'USR S before USR I')
  assert.equal(await ask(p, 'INF 6'), '502 6', 'no INF from MSNP8 on')
  assert.equal(await ask(p, 'USR 7 TWN I carol@'), '206 7', 'account without a domain')
  p.write('USR 8 TWN I carol@example.org\r\n')
  await p.until('USR', 8)
  assert.equal(await ask(p, 'USR 9 TWN S t=1&p=2'), 'USR 9 OK carol@example.org 1 0')
  await p.until('MSG')
  assert.equal(await ask(p, 'USR 10 TWN I carol@example.org'), '207 10', 'already signed in')
  assert.equal(await ask(p, 'XFR 11 SB'), '913 11', 'switchboard while offline')
  assert.equal(await ask(p, 'CHG 12 FLN 0'), '201 12', 'FLN cannot be set')
  assert.equal(await ask(p, 'BLP 13 XX'), '201 13')
  assert.equal(await ask(p, 'FND 14 fname=a'), '502 14', 'known but disabled')
  assert.equal(await ask(p, 'ZZZ 15 hello'), '200 15', 'unknown verb')
  p.write('PNG\r\n')
  assert.equal((await p.next()).verb, 'QNG', 'the connection carries on after 200')
})

test('a wrong challenge answer gets 540 and the connection ends; a right one gets QRY', async (t) => {
  const server = await lab(t)
  const p = await peer(t, server.ns.port, 12)
  await twnLogin(p, 12, 'alice@example.com')
  const challenge = server.sendChallenge('alice@example.com')!
  assert.equal(await ask(p, 'PNG'), `CHL 0 ${challenge}`)
  await p.next()
  const answer = qryMsnp11(challenge, 'PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL')
  assert.equal(await ask(p, `QRY 7 PROD0090YUAUV{2B 32\r\n${answer}`), 'QRY 7')
  server.sendChallenge('alice@example.com', '22210219642164014968')
  assert.equal((await p.next()).verb, 'CHL')
  assert.equal(await ask(p, 'QRY 8 PROD0090YUAUV{2B 32\r\n00000000000000000000000000000000'), '540 8')
  await p.closed
})

test('MD5 logins: a response that is not 32 hex digits, or wrong for a configured password, gets 911', async (t) => {
  const server = await lab(t, { users: [{ account: 'dave@example.com', password: 'secret' }] })
  const bad = await peer(t, server.ns.port, 7)
  assert.equal(await ask(bad, 'VER 1 MSNP7 CVR0'), 'VER 1 MSNP7')
  assert.equal(await ask(bad, 'INF 2'), 'INF 2 MD5')
  assert.match(await ask(bad, 'USR 3 MD5 I erin@example.com'), /^USR 3 MD5 S \S+$/)
  assert.equal(await ask(bad, 'USR 4 MD5 S not-a-hash'), '911 4')
  await bad.closed

  const dave = await peer(t, server.ns.port, 7)
  await ask(dave, 'VER 1 MSNP7 CVR0')
  const salt = (await ask(dave, 'USR 2 MD5 I dave@example.com')).split(' ')[4]!
  assert.equal(await ask(dave, `USR 3 MD5 S ${md5LoginResponse(salt, 'wrong')}`), '911 3')
  await dave.closed

  const ok = await peer(t, server.ns.port, 7)
  await ask(ok, 'VER 1 MSNP7 CVR0')
  const salt2 = (await ask(ok, 'USR 2 MD5 I dave@example.com')).split(' ')[4]!
  assert.equal(await ask(ok, `USR 3 MD5 S ${md5LoginResponse(salt2, 'secret')}`), 'USR 3 OK dave@example.com dave%40example.com 1')
})

test('no common dialect: VER 0 and the connection ends; the dispatch server refers and hangs up', async (t) => {
  const server = await lab(t, { dialects: [8, 12] })
  const p = await peer(t, server.ds.port)
  assert.equal(await ask(p, 'VER 1 MSNP18 MSNP15 CVR0'), 'VER 1 0')
  await p.closed
  const ds = await peer(t, server.ds.port)
  assert.equal(await ask(ds, 'VER 1 MSNP15 MSNP12 CVR0'), 'VER 1 MSNP12')
  assert.equal(await ask(ds, 'CHG 2 NLN 0'), '715 2', 'the DS only refers')
  assert.equal(await ask(ds, 'USR 3 TWN I alice@example.com'), `XFR 3 NS ${HOST}:${server.ns.port} 0 ${HOST}:${server.ds.port}`)
  await ds.closed
})

test('switchboard errors: bad cookie 911, offline contact 217, already there 215, alone NAK, bad P2P 282', async (t) => {
  const server = await lab(t)
  const bad = await peer(t, server.sb.port)
  assert.equal(await ask(bad, 'USR 1 alice@example.com 123.456.789'), '911 1')
  await bad.closed

  const opts = { dialect: 12, host: HOST, port: server.ds.port }
  const alice = new LabClient({ ...opts, account: 'alice@example.com' })
  const bob = new LabClient({ ...opts, account: 'bob@example.net' })
  t.after(async () => { alice.close(); bob.close() })
  await alice.login()
  await alice.setPresence()
  await assert.rejects(alice.openChat('bob@example.net'), (e: unknown) => e instanceof LabReplyError && e.code === 217)
  await bob.login()
  await bob.setPresence('HDN')
  await assert.rejects(alice.openChat('bob@example.net'), (e: unknown) => e instanceof LabReplyError && e.code === 217, 'hidden counts as offline')
  await bob.setPresence('NLN')
  const chat = await alice.openChat('bob@example.net')
  await assert.rejects(chat.invite('bob@example.net'), (e: unknown) => e instanceof LabReplyError && e.code === 215)
  await assert.rejects(chat.invite('not an account'), (e: unknown) => e instanceof LabReplyError && e.code === 208)
  const bobChat = await bob.waitFor('chat')
  await bobChat.leave()
  await chat.waitFor('left')
  await assert.rejects(chat.sendText('anyone?'), (e: unknown) => e instanceof LabReplyError && /NAK/.test(e.message))
  await assert.rejects(
    chat.channel.request('MSG', ['D'], { payload: Buffer.from('MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\n\r\nshort'), expect: ['ACK', 'NAK'] }),
    (e: unknown) => e instanceof LabReplyError && e.code === 282,
  )
  await chat.waitFor('closed')
})
