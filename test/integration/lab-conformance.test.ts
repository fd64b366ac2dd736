/**
 * The lab server against the reference transcripts: the client side of TV1, TV2, TV3, TV4 and
 * TV6 is sent over real sockets, command by command, and every server line of the transcript
 * must come back with the same verb, TrID and number of arguments (values such as cookies,
 * salts and nonces differ). Challenges and contacts' presence changes are triggered through
 * the server's API at the point where the transcript shows them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent } from '../../src/protocol/events.js'
import { startLabServer, type LabServer } from '../../src/lab/server.js'
import type { LabUserConfig } from '../../src/lab/directory.js'
import { splitHostPort } from '../../src/lab/wire.js'
import { WirePeer } from '../helpers/lab-peer.js'
import { VECTORS, itemBytes } from '../helpers/vectors.js'

const HOST = '127.0.0.3'

interface Item { dir: 'C' | 'S'; srv?: string; wire?: string; hex?: string }

const items = (tv: string): Item[] => {
  const v = VECTORS[tv]
  assert.ok(Array.isArray(v), `${tv} fixture`)
  return v as Item[]
}

/** The single command an item holds, framed with the dialect of its transcript. */
function parseItem(item: Item, dialect: number): CommandEvent {
  const d = new MsnpDecoder(item.dir === 'C' ? 'client' : 'server', { dialect, decode: false })
  const evs = d.push(itemBytes(item))
  assert.equal(evs.length, 1)
  const ev = evs[0]!
  assert.equal(ev.kind, 'command')
  return ev as CommandEvent
}

function assertShape(actual: CommandEvent, item: Item, dialect: number, where: string): void {
  const want = parseItem(item, dialect)
  const show = (c: CommandEvent): string => `${c.verb} ${c.trId ?? '-'} [${c.args.join(' ')}]${c.payloadLength === null ? '' : ` +${c.payloadLength}`}`
  const msg = `${where}: expected ${show(want)}, got ${show(actual)}`
  assert.equal(actual.verb, want.verb, msg)
  assert.equal(actual.trId, want.trId, msg)
  assert.equal(actual.args.length, want.args.length, msg)
  assert.equal(actual.payloadLength === null, want.payloadLength === null, msg)
}

async function lab(t: { after: (fn: () => Promise<void>) => void }, users: LabUserConfig[]): Promise<LabServer> {
  const server = await startLabServer({ host: HOST, users, challenge: 'manual' })
  t.after(() => server.close())
  return server
}

/** Every socket the server accepted came from loopback (the test's own clients). */
const assertOnlyLoopback = (server: LabServer): void =>
  assert.deepEqual(server.peers.filter((p) => !p.remoteAddress.startsWith('127.')), [])

/**
 * Feed one login transcript. `start` is where its first item's server listens; a DS->NS switch
 * follows the address of the XFR the lab really sent. `onServerLine` runs before waiting for a
 * server line (to trigger challenges and presence changes).
 */
async function replayTranscript(
  t: { after: (fn: () => Promise<void>) => void },
  tv: string, dialect: number, server: LabServer, start: 'DS' | 'NS',
  onServerLine: (line: string) => void,
): Promise<void> {
  const list = items(tv)
  let srv = list[0]!.srv
  let peer = await WirePeer.connect(HOST, start === 'DS' ? server.ds.port : server.ns.port, dialect)
  t.after(async () => peer.close())
  let xfr: CommandEvent | null = null
  for (const [i, item] of list.entries()) {
    if (item.srv !== srv) {
      assert.equal(srv, 'DS')
      await peer.closed
      assert.ok(xfr !== null, 'the DS referred the client')
      const addr = splitHostPort(xfr.args[1] ?? '')
      assert.ok(addr !== null)
      const ns = await WirePeer.connect(addr.host, addr.port, dialect)
      t.after(async () => ns.close())
      peer = ns
      srv = item.srv
    }
    if (item.dir === 'C') {
      peer.write(itemBytes(item))
      continue
    }
    onServerLine(item.wire ?? '')
    const got = await peer.next()
    assertShape(got, item, dialect, `${tv} item ${i}`)
    if (got.verb === 'XFR') xfr = got
  }
  const last = list[list.length - 1]!
  if (last.dir === 'C' && (last.wire ?? '').startsWith('OUT')) await peer.closed
  assert.deepEqual(peer.pending().map((c) => c.verb), [], `${tv}: nothing more than the transcript`)
  assertOnlyLoopback(server)
}

/** Challenges and presence changes the transcripts show, caused through the server's API. */
function triggers(server: LabServer, account: string, presence: Record<string, [string, string]>): (line: string) => void {
  return (line) => {
    const chl = /^CHL 0 (\d+)/.exec(line)
    if (chl !== null) assert.equal(server.sendChallenge(account, chl[1]), chl[1])
    for (const [prefix, [who, status]] of Object.entries(presence)) if (line.startsWith(prefix)) server.setPresence(who, status)
  }
}

const MSNOBJ = '<msnobj Creator="bob@example.net" Size="8712" Type="3" Location="TFR3A.dat" Friendly="AAA=" SHA1D="Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==" SHA1C="cXV4YmF6YmFyZm9vMDk4NzY1NDMyMQ=="/>'

test('TV1: MSNP7 dispatch referral, MD5 login, numbered SYN, CHL/QRY, PNG, OUT', async (t) => {
  const server = await lab(t, [
    { account: 'alice@example.com', name: 'Alice A.', groups: ['Other Contacts', 'Friends'], contacts: [{ account: 'bob@example.net', groups: [1] }] },
    { account: 'bob@example.net', name: 'Bob', presence: { status: 'BSY' } },
  ])
  await replayTranscript(t, 'TV1', 7, server, 'DS', triggers(server, 'alice@example.com', { 'NLN AWY': ['bob@example.net', 'AWY'] }))
})

test('TV2: MSNP8 TWN login, profile and mail, SYN with groups and phones, ILN, CHL/QRY', async (t) => {
  const server = await lab(t, [
    {
      account: 'alice@example.com', name: 'Alice A.', phones: { PHH: '555 0100' }, groups: ['Other Contacts', 'Coworkers'],
      contacts: [{ account: 'bob@example.net', groups: [0] }, { account: 'carol@example.org', lists: ['FL', 'BL', 'RL'], groups: [1] }],
    },
    { account: 'bob@example.net', name: 'Bob', phones: { PHM: '555 0199' }, presence: { status: 'NLN', caps: '268435492' } },
    { account: 'carol@example.org', name: 'Carol' },
  ])
  await replayTranscript(t, 'TV2', 8, server, 'DS', triggers(server, 'alice@example.com', {}))
})

test('TV3: MSNP12 login, SBS, SYN with GUIDs, ILN with object, UBX, UUX, MSNP11 challenge', async (t) => {
  const server = await lab(t, [
    {
      account: 'alice@example.com', name: 'Alice A.', groups: ['Coworkers'],
      contacts: [{ account: 'bob@example.net', groups: [0] }, { account: 'carol@example.org', lists: ['FL', 'BL', 'RL'] }],
    },
    { account: 'bob@example.net', name: 'Bob', presence: { status: 'NLN', caps: '1342177316', msnobj: MSNOBJ, psm: 'At lunch' } },
    { account: 'carol@example.org', name: 'Carol' },
  ])
  await replayTranscript(t, 'TV3', 12, server, 'NS', triggers(server, 'alice@example.com', {}))
})

test('TV6: MSNP18 SSO login with GCF, ADL, UUX, NLN/UBX, challenge, 241 with payload, FLN', async (t) => {
  const server = await lab(t, [
    { account: 'alice@example.com', name: 'Alice A.' },
    { account: 'bob@example.net', name: 'Bob', presence: { status: 'NLN', caps: '2789003324:48', msnobj: MSNOBJ, psm: 'At lunch' } },
    { account: 'carol@example.org', name: 'Carol', presence: { status: 'HDN' } },
  ])
  await replayTranscript(t, 'TV6', 18, server, 'NS', triggers(server, 'alice@example.com', { 'FLN 1:carol': ['carol@example.org', 'FLN'] }))
})

/** MSNP12 login on the NS by raw commands; returns the connection after the first CHG. */
async function signIn(t: { after: (fn: () => Promise<void>) => void }, server: LabServer, account: string, caps: string): Promise<WirePeer> {
  const peer = await WirePeer.connect(HOST, server.ns.port, 12)
  t.after(async () => peer.close())
  peer.write('VER 1 MSNP12 CVR0\r\n')
  await peer.until('VER', 1)
  peer.write(`CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs ${account}\r\n`)
  await peer.until('CVR', 2)
  peer.write(`USR 3 TWN I ${account}\r\n`)
  await peer.until('USR', 3)
  peer.write('USR 4 TWN S t=ticket&p=profile\r\n')
  await peer.until('USR', 4)
  peer.write(`CHG 5 NLN ${caps} 0\r\n`)
  await peer.until('CHG', 5)
  return peer
}

test('TV4: switchboard via XFR SB and RNG, IRO/JOI, typing, text, nudge, ACK, BYE', async (t) => {
  const server = await lab(t, [
    { account: 'alice@example.com', name: 'Alice A.', contacts: ['bob@example.net'] },
    { account: 'bob@example.net', name: 'Bob', contacts: ['alice@example.com'] },
  ])
  const tv = items('TV4')
  const at = (i: number): Item => tv[i]!
  const d = 12
  const aliceNs = await signIn(t, server, 'alice@example.com', '1342177280')
  const bobNs = await signIn(t, server, 'bob@example.net', '1342177316')

  aliceNs.write(itemBytes(at(0)))
  const xfr = (await aliceNs.until('XFR', 12)).pop()!
  assertShape(xfr, at(1), d, 'XFR SB')
  const sbAddr = splitHostPort(xfr.args[1]!)!
  const aliceSb = await WirePeer.connect(sbAddr.host, sbAddr.port, d)
  t.after(async () => aliceSb.close())
  aliceSb.write(`USR 1 alice@example.com ${xfr.args[3]}\r\n`)
  assertShape(await aliceSb.next(), at(3), d, 'USR OK')
  aliceSb.write(itemBytes(at(4)))
  const ringing = await aliceSb.next()
  assertShape(ringing, at(5), d, 'CAL RINGING')

  const rng = (await bobNs.until('RNG')).pop()!
  assertShape(rng, at(6), d, 'RNG')
  assert.equal(rng.args[0], ringing.args[1], 'RNG carries the session id of RINGING')
  assert.equal(rng.args[4], 'alice@example.com')
  const rngAddr = splitHostPort(rng.args[1]!)!
  const bobSb = await WirePeer.connect(rngAddr.host, rngAddr.port, d)
  t.after(async () => bobSb.close())
  bobSb.write(`ANS 1 bob@example.net ${rng.args[3]} ${rng.args[0]}\r\n`)
  assertShape(await bobSb.next(), at(8), d, 'IRO')
  assertShape(await bobSb.next(), at(9), d, 'ANS OK')
  assertShape(await aliceSb.next(), at(10), d, 'JOI')

  // typing (U: no reply), text (A: ACK), nudge (N: no reply); Bob gets each one unchanged
  aliceSb.write(itemBytes(at(11)))
  aliceSb.write(itemBytes(at(12)))
  assertShape(await aliceSb.next(), at(13), d, 'ACK after MSG A')
  aliceSb.write(itemBytes(at(14)))
  for (const [sent, relayed] of [[11, 15], [12, 16], [14, 17]] as const) {
    const got = await bobSb.next()
    assertShape(got, at(relayed), d, `relayed MSG ${sent}`)
    assert.deepEqual(got.payloadRaw, parseItem(at(sent), d).payloadRaw)
    assert.deepEqual(got.raw, itemBytes(at(relayed)), 'relayed byte for byte as in the transcript')
  }
  bobSb.write(itemBytes(at(18)))
  assertShape(await bobSb.next(), at(19), d, 'ACK to Bob')
  const reply = await aliceSb.next()
  assertShape(reply, at(20), d, 'reply relayed to Alice')
  assert.deepEqual(reply.raw, itemBytes(at(20)))
  bobSb.write(itemBytes(at(21)))
  await bobSb.closed
  assertShape(await aliceSb.next(), at(22), d, 'BYE')
  assert.deepEqual(aliceSb.pending(), [])
  assertOnlyLoopback(server)
})
