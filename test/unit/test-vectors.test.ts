// The nine transcripts of the protocol reference (test/fixtures/test-vectors.json), decoded per
// connection and direction by the real decoder: every frame's verb, TrID and payload length in
// order, the decoded fields of the interesting ones, the encode round trip, and that the raw
// bytes of all events add up to each stream.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { MsnpDecoder, type DialectState } from '../../src/protocol/decoder.js'
import { encodeCommand } from '../../src/protocol/encoder.js'
import type { CommandEvent, Fields, MsnpEvent, Side } from '../../src/protocol/events.js'

interface Item { dir: 'C' | 'S'; srv?: string; wire?: string; hex?: string; raw?: string }
type Vectors = Record<'TV1' | 'TV2' | 'TV3' | 'TV4' | 'TV5' | 'TV6' | 'TV7' | 'TV8', Item[]> & {
  TV9: { stream_hex: string; frames: Array<{ line: string; payloadLength: number | null }> }
}
const TV = JSON.parse(readFileSync(new URL('../fixtures/test-vectors.json', import.meta.url), 'utf8')) as Vectors

const side = (dir: 'C' | 'S'): Side => (dir === 'C' ? 'client' : 'server')
const bytesOf = (it: Item): Buffer => (it.hex !== undefined ? Buffer.from(it.hex, 'hex') : Buffer.from(it.wire ?? '', 'utf8'))

/** One piece of traffic: the bytes of one command (or of one gateway body) on one connection. */
interface Piece { conn: string; from: Side; bytes: Buffer }

interface Decoded {
  /** per `conn/from`: the stream and its events, decoded in one push */
  streams: Map<string, { bytes: Buffer; events: MsnpEvent[] }>
  /** every command, in transcript order (pieces fed one by one, both directions interleaved) */
  commands: Array<CommandEvent & { conn: string }>
}

/**
 * Decodes the pieces twice: each direction's whole stream in one push (the client stream first,
 * so the server stream sees the dialect its VER offer set), and piece by piece in transcript
 * order; both must give the same frames.
 */
function decodeVector(pieces: Piece[], dialects: Record<string, number | null>): Decoded {
  const streams = new Map<string, { bytes: Buffer; events: MsnpEvent[] }>()
  const conns = [...new Set(pieces.map((p) => p.conn))]
  for (const conn of conns) {
    const state: DialectState = { dialect: dialects[conn] ?? null, confirmed: (dialects[conn] ?? null) !== null }
    for (const from of ['client', 'server'] as const) {
      const bytes = Buffer.concat(pieces.filter((p) => p.conn === conn && p.from === from).map((p) => p.bytes))
      if (bytes.length === 0) continue
      const d = new MsnpDecoder(from, { dialect: state })
      streams.set(`${conn}/${from}`, { bytes, events: [...d.push(bytes), ...d.end()] })
    }
  }
  const decoders = new Map<string, MsnpDecoder>()
  const states = new Map<string, DialectState>()
  const commands: Decoded['commands'] = []
  for (const p of pieces) {
    const key = `${p.conn}/${p.from}`
    let d = decoders.get(key)
    if (d === undefined) {
      let state = states.get(p.conn)
      if (state === undefined) {
        const initial = dialects[p.conn] ?? null
        state = { dialect: initial, confirmed: initial !== null }
        states.set(p.conn, state)
      }
      d = new MsnpDecoder(p.from, { dialect: state })
      decoders.set(key, d)
    }
    for (const e of d.push(p.bytes)) {
      assert.equal(e.kind, 'command', `malformed in ${key}: ${e.kind === 'malformed' ? e.reason : ''}`)
      commands.push({ ...(e as CommandEvent), conn: p.conn })
    }
  }
  for (const [key, d] of decoders) assert.deepEqual(d.end(), [], `${key} ends between commands`)
  // the whole-stream decoding agrees with the piece-by-piece one
  for (const [key, s] of streams) {
    const [conn, from] = key.split('/')
    const piecewise = commands.filter((c) => c.conn === conn && c.from === from)
    assert.deepEqual(s.events.map(summary), piecewise.map(summary), key)
    assert.deepEqual(s.events.map((e) => (e as CommandEvent).fields), piecewise.map((c) => c.fields), `${key} fields`)
  }
  return { streams, commands }
}

const summary = (e: MsnpEvent): string =>
  e.kind === 'command' ? `${e.verb} ${e.trId ?? '-'} ${e.payloadLength ?? '-'}` : `malformed ${e.code}`

/** Every stream: only commands, each encodes back to its raw bytes, and the raws add up to the stream. */
function assertStreams(decoded: Decoded): void {
  for (const [key, s] of decoded.streams) {
    let total = 0
    for (const e of s.events) {
      assert.equal(e.kind, 'command', `${key}: ${summary(e)}`)
      const c = e as CommandEvent
      const wire = c.wire === undefined ? {} : { wire: c.wire }
      assert.deepEqual(encodeCommand({ verb: c.verb, trId: c.trId, args: c.args, payloadRaw: c.payloadRaw, ...wire }), c.raw, `${key} ${summary(c)}`)
      assert.equal(c.offset, total, `${key} offset of ${summary(c)}`)
      total += c.raw.length
    }
    assert.equal(total, s.bytes.length, `${key}: raw lengths add up to the stream`)
  }
}

/** `C VER 1 -` per command in transcript order. */
const key = (commands: Decoded['commands']): string[] =>
  commands.map((c) => `${c.from === 'client' ? 'C' : 'S'} ${summary(c)}`)

/** The n-th command (0-based) with this verb and direction. */
function pick(commands: Decoded['commands'], from: Side, verb: string, n = 0): CommandEvent {
  const found = commands.filter((c) => c.from === from && c.verb === verb)[n]
  assert.ok(found !== undefined, `${from} ${verb} #${n}`)
  return found
}
const f = (commands: Decoded['commands'], from: Side, verb: string, n = 0): Fields => pick(commands, from, verb, n).fields

function itemsBySrv(items: Item[]): Piece[] {
  return items.map((it) => ({ conn: it.srv ?? 'NS', from: side(it.dir), bytes: bytesOf(it) }))
}

test('TV1: MSNP7 referral, MD5 login, numbered SYN, presence, challenge, logout', () => {
  const d = decodeVector(itemsBySrv(TV.TV1), {})
  assertStreams(d)
  assert.deepEqual(key(d.commands), [
    'C VER 1 -', 'S VER 1 -', 'C INF 2 -', 'S INF 2 -', 'C USR 3 -', 'S XFR 3 -', 'C VER 4 -', 'S VER 4 -', 'C INF 5 -',
    'S INF 5 -', 'C USR 6 -', 'S USR 6 -', 'C USR 7 -', 'S USR 7 -', 'S MSG - 402', 'C SYN 8 -', 'S SYN 8 -', 'S GTC 8 -',
    'S BLP 8 -', 'S LSG 8 -', 'S LSG 8 -', 'S LST 8 -', 'S LST 8 -', 'S LST 8 -', 'S LST 8 -', 'C CHG 9 -', 'S CHG 9 -',
    'S ILN 9 -', 'S CHL 0 -', 'C QRY 10 32', 'S QRY 10 -', 'S NLN - -', 'C PNG - -', 'S QNG - -', 'C OUT - -',
  ])
  const c = d.commands
  assert.deepEqual(f(c, 'client', 'VER'), { offered: ['MSNP7', 'MSNP6', 'MSNP5', 'MSNP4'], offeredVersions: [7, 6, 5, 4], cvr0: true })
  assert.deepEqual(f(c, 'server', 'XFR'), {
    kind: 'NS', address: '192.0.2.41:1863', host: '192.0.2.41', port: 1863, flags: ['0'], currentServer: '192.0.2.10:1863',
  })
  assert.deepEqual(f(c, 'client', 'USR', 0), { scheme: 'MD5', stage: 'I', account: 'alice@example.com' })
  assert.deepEqual(f(c, 'server', 'USR', 0), { scheme: 'MD5', stage: 'S', salt: '1118234567.30312' })
  assert.deepEqual(f(c, 'client', 'USR', 2), { scheme: 'MD5', stage: 'S', response: 'f651d58e332e28da6917fe07d1c8bfc9' })
  assert.deepEqual(f(c, 'server', 'USR', 1), { stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.', verified: true })
  assert.deepEqual(f(c, 'server', 'SYN'), { listVersion: '7' })
  assert.deepEqual(f(c, 'server', 'LSG', 0), { listVersion: '7', index: 1, total: 2, groupId: '0', groupName: 'Other Contacts' })
  assert.deepEqual(f(c, 'server', 'LST', 0), {
    list: 'FL', listName: 'forward list', listVersion: '7', index: 1, total: 1, account: 'bob@example.net', displayName: 'Bob', groups: ['1'],
  })
  assert.deepEqual(f(c, 'server', 'ILN'), { status: 'BSY', statusName: 'busy', account: 'bob@example.net', displayName: 'Bob' })
  assert.deepEqual(f(c, 'server', 'CHL'), { challenge: '48203715562901847316' })
  assert.deepEqual(f(c, 'client', 'QRY'), { productId: 'msmsgs@msnmsgr.com' })
  assert.deepEqual(f(c, 'server', 'NLN'), { status: 'AWY', statusName: 'away', account: 'bob@example.net', displayName: 'Bob' })
  assert.ok(c.filter((x) => x.conn === 'NS').every((x) => x.dialect === 7), 'the NS connection speaks MSNP7')
})

test('TV2: MSNP8 Tweener login and SYN with LSG, LST, BPR, PRP', () => {
  const d = decodeVector(itemsBySrv(TV.TV2), {})
  assertStreams(d)
  assert.deepEqual(key(d.commands), [
    'C VER 1 -', 'S VER 1 -', 'C CVR 2 -', 'S CVR 2 -', 'C USR 3 -', 'S XFR 3 -', 'C VER 4 -', 'S VER 4 -', 'C CVR 5 -',
    'S CVR 5 -', 'C USR 6 -', 'S USR 6 -', 'C USR 7 -', 'S USR 7 -', 'S MSG - 420', 'S MSG - 221', 'C SYN 8 -', 'S SYN 8 -',
    'S GTC - -', 'S BLP - -', 'S PRP - -', 'S LSG - -', 'S LSG - -', 'S LST - -', 'S BPR - -', 'S LST - -', 'C CHG 9 -',
    'S CHG 9 -', 'S ILN 9 -', 'S CHL 0 -', 'C QRY 10 32', 'S QRY 10 -',
  ])
  const c = d.commands
  assert.equal(f(c, 'client', 'CVR').account, 'alice@example.com')
  assert.equal(f(c, 'server', 'CVR').minimum, '1.0.0863')
  assert.equal(f(c, 'server', 'XFR').address, '192.0.2.42:1863')
  assert.equal(f(c, 'client', 'USR', 1).account, 'alice@example.com')
  const challenge = f(c, 'server', 'USR', 0)
  assert.equal(challenge.stage, 'S')
  assert.equal((challenge.passportParams as Record<string, string>).ru, 'http://messenger.msn.com')
  assert.equal(f(c, 'client', 'USR', 2).ticket, 't=5Ax!EXAMPLE*TICKET*only*for*tests$$&p=5Bz!EXAMPLE*PROFILE*only*for*tests$$')
  assert.deepEqual(f(c, 'server', 'USR', 1), {
    stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.', verified: true, restricted: false,
  })
  assert.deepEqual(f(c, 'server', 'SYN'), { listVersion: '12', contactCount: 2, groupCount: 2 })
  assert.deepEqual(f(c, 'server', 'GTC'), { setting: 'A', meaning: 'ask when someone adds you' })
  assert.deepEqual(f(c, 'server', 'PRP'), { property: 'PHH', propertyName: 'home phone', value: '555 0100' })
  assert.deepEqual(f(c, 'server', 'LSG', 1), { groupId: '1', groupName: 'Coworkers' })
  assert.deepEqual(f(c, 'server', 'LST', 0), {
    account: 'bob@example.net', displayName: 'Bob', listBits: 11, lists: ['FL', 'AL', 'RL'], groups: ['0'],
  })
  assert.deepEqual(f(c, 'server', 'LST', 1).lists, ['FL', 'BL', 'RL'])
  assert.deepEqual(f(c, 'server', 'BPR'), { property: 'PHM', propertyName: 'mobile phone', value: '555 0199' })
  assert.deepEqual(f(c, 'server', 'ILN'), {
    status: 'NLN', statusName: 'online', account: 'bob@example.net', displayName: 'Bob',
    capabilities: 268435492, capabilityFlags: ['inkGif', 'multiPacket'], msnc: 1, clientVersion: '6.0',
  })
})

test('TV3: MSNP12 login, SYN with GUIDs, ILN with MSNObject, UBX/UUX, new challenge', () => {
  const d = decodeVector(itemsBySrv(TV.TV3), {})
  assertStreams(d)
  assert.deepEqual(key(d.commands), [
    'C VER 4 -', 'S VER 4 -', 'C CVR 5 -', 'S CVR 5 -', 'C USR 6 -', 'S USR 6 -', 'C USR 7 -', 'S USR 7 -', 'S SBS 0 -',
    'S MSG - 437', 'C SYN 8 -', 'S SYN 8 -', 'S GTC - -', 'S BLP - -', 'S PRP - -', 'S LSG - -', 'S LST - -', 'S LST - -',
    'C CHG 9 -', 'S CHG 9 -', 'S ILN 9 -', 'S UBX - 61', 'C UUX 10 66', 'S UUX 10 0', 'S CHL 0 -', 'C QRY 11 32', 'S QRY 11 -',
  ])
  const c = d.commands
  assert.deepEqual(f(c, 'server', 'USR', 1), { stage: 'OK', account: 'alice@example.com', verified: true, restricted: false })
  assert.deepEqual(f(c, 'server', 'SBS'), { value: 'null' })
  assert.equal(f(c, 'server', 'SYN').contactCount, 2)
  assert.equal(f(c, 'server', 'SYN').groupCount, 1)
  assert.deepEqual(f(c, 'server', 'PRP'), { property: 'MFN', propertyName: 'display name', value: 'Alice A.' })
  assert.deepEqual(f(c, 'server', 'LSG'), { groupName: 'Coworkers', groupId: '3f6a2d1c-8b9e-4a7f-b5c4-d3e2f1a0b9c8' })
  assert.deepEqual(f(c, 'server', 'LST', 0), {
    account: 'bob@example.net', displayName: 'Bob', contactGuid: '9e1a0f0c-4b7e-4f0e-8a51-6b1c2d3e4f50', listBits: 11,
    lists: ['FL', 'AL', 'RL'], networkId: 1, networkName: 'messenger', groups: ['3f6a2d1c-8b9e-4a7f-b5c4-d3e2f1a0b9c8'],
  })
  assert.deepEqual(f(c, 'client', 'CHG'), { status: 'NLN', statusName: 'online', capabilities: 1342177280, capabilityFlags: [], msnc: 5, clientVersion: '7.5' })
  const iln = f(c, 'server', 'ILN')
  assert.equal(iln.status, 'NLN')
  assert.equal(iln.account, 'bob@example.net')
  assert.equal(iln.capabilities, 1342177316)
  assert.deepEqual(iln.capabilityFlags, ['inkGif', 'multiPacket'])
  assert.ok(typeof iln.msnObject === 'string' && iln.msnObject.startsWith('<msnobj Creator="bob@example.net"'))
  assert.deepEqual(iln.msnObjectInfo, {
    creator: 'bob@example.net', size: 8712, type: 3, typeName: 'display picture', location: 'TFR3A.dat', friendly: 'AAA=',
    friendlyName: '', sha1d: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', sha1c: 'cXV4YmF6YmFyZm9vMDk4NzY1NDMyMQ==',
  })
  assert.deepEqual(f(c, 'server', 'UBX'), { account: 'bob@example.net' })
  assert.deepEqual(f(c, 'client', 'QRY'), { productId: 'PROD0090YUAUV{2B' })
})

// TV4 lists Alice's and Bob's connections together; its `# ---` comments say which is which.
const TV4_CONNS = [
  'aliceNS', 'aliceNS', 'aliceSB', 'aliceSB', 'aliceSB', 'aliceSB', 'bobNS', 'bobSB', 'bobSB', 'bobSB', 'aliceSB', 'aliceSB',
  'aliceSB', 'aliceSB', 'aliceSB', 'bobSB', 'bobSB', 'bobSB', 'bobSB', 'bobSB', 'aliceSB', 'bobSB', 'aliceSB',
]

test('TV4: switchboard chat per connection: XFR SB, USR, CAL, RNG, ANS/IRO/JOI, MSG, ACK, BYE', () => {
  assert.equal(TV4_CONNS.length, TV.TV4.length)
  const pieces = TV.TV4.map((it, i) => ({ conn: TV4_CONNS[i]!, from: side(it.dir), bytes: bytesOf(it) }))
  const d = decodeVector(pieces, { aliceNS: 12, bobNS: 12, aliceSB: 12, bobSB: 12 })
  assertStreams(d)
  assert.equal(d.streams.size, 7, 'Alice NS both ways, Bob NS server side, both switchboards both ways')
  assert.deepEqual(key(d.commands), [
    'C XFR 12 -', 'S XFR 12 -', 'C USR 1 -', 'S USR 1 -', 'C CAL 2 -', 'S CAL 2 -', 'S RNG - -', 'C ANS 1 -', 'S IRO 1 -',
    'S ANS 1 -', 'S JOI - -', 'C MSG 3 90', 'C MSG 4 151', 'S ACK 4 -', 'C MSG 5 69', 'S MSG - 90', 'S MSG - 151', 'S MSG - 69',
    'C MSG 2 120', 'S ACK 2 -', 'S MSG - 120', 'C OUT - -', 'S BYE - -',
  ])
  const c = d.commands
  assert.deepEqual(f(c, 'client', 'XFR'), { kind: 'SB' })
  const xfr = f(c, 'server', 'XFR')
  assert.deepEqual(xfr, {
    kind: 'SB', address: '192.0.2.77:1863', host: '192.0.2.77', port: 1863, authScheme: 'CKI', cookie: '1717171717.29482.12345',
  })
  // the cookie of the referral is the one the caller presents on the new connection
  assert.deepEqual(f(c, 'client', 'USR'), { switchboard: true, account: 'alice@example.com', cookie: xfr.cookie })
  assert.deepEqual(f(c, 'server', 'USR'), { stage: 'OK', account: 'alice@example.com', friendlyName: 'Alice A.' })
  assert.deepEqual(f(c, 'client', 'CAL'), { account: 'bob@example.net' })
  assert.deepEqual(f(c, 'server', 'CAL'), { state: 'RINGING', sessionId: '11752099' })
  const rng = f(c, 'server', 'RNG')
  assert.deepEqual(rng, {
    sessionId: '11752099', address: '192.0.2.77:1863', host: '192.0.2.77', port: 1863, authScheme: 'CKI',
    cookie: '849102291.520491113.5811', caller: 'alice@example.com', callerName: 'Alice A.',
  })
  assert.deepEqual(f(c, 'client', 'ANS'), { account: 'bob@example.net', cookie: rng.cookie, sessionId: rng.sessionId })
  assert.deepEqual(f(c, 'server', 'IRO'), {
    index: 1, total: 1, account: 'alice@example.com', displayName: 'Alice A.', capabilities: 1342177280, capabilityFlags: [], msnc: 5, clientVersion: '7.5',
  })
  assert.deepEqual(f(c, 'server', 'ANS'), { ok: true })
  assert.equal(f(c, 'server', 'JOI').capabilities, 1342177316)
  assert.deepEqual(c.filter((x) => x.verb === 'MSG' && x.from === 'client').map((x) => x.fields.ack), ['U', 'A', 'N', 'A'])
  assert.deepEqual(f(c, 'server', 'MSG', 0), { sender: 'alice@example.com', senderName: 'Alice A.' })
  assert.deepEqual(f(c, 'server', 'MSG', 3), { sender: 'bob@example.net', senderName: 'Bob' })
  assert.deepEqual(f(c, 'server', 'ACK'), { delivered: true })
  assert.deepEqual(f(c, 'server', 'BYE'), { account: 'bob@example.net' })
  assert.equal(c.find((x) => x.verb === 'BYE')?.conn, 'aliceSB', 'Alice sees Bob leave')
})

/** TV5's HTTP messages: the body of each, on the NS or the SB gateway session. */
function gatewayPieces(items: Item[]): Piece[] {
  const pieces: Piece[] = []
  let conn = 'NS'
  for (const it of items) {
    const raw = Buffer.from(it.raw ?? '', 'utf8')
    const end = raw.indexOf('\r\n\r\n')
    assert.ok(end > 0)
    const head = raw.subarray(0, end).toString('latin1')
    const body = raw.subarray(end + 4)
    const length = /\r\nContent-Length: (\d+)/i.exec(head)
    assert.equal(Number(length?.[1]), body.length, 'Content-Length matches the body')
    if (it.dir === 'C') conn = /Server=SB|SessionID=3301928455/.test(head.slice(0, head.indexOf('\r\n'))) ? 'SB' : 'NS'
    if (body.length > 0) pieces.push({ conn, from: side(it.dir), bytes: body })
  }
  return pieces
}

test('TV5: the MSNP inside the HTTP gateway bodies, NS and SB sessions', () => {
  const d = decodeVector(gatewayPieces(TV.TV5), { SB: 9 })
  assertStreams(d)
  assert.deepEqual(key(d.commands), [
    'C VER 1 -', 'S VER 1 -', 'C CVR 2 -', 'C USR 3 -', 'S CVR 2 -', 'S USR 3 -', 'S RNG - -', 'C ANS 1 -', 'S IRO 1 -',
    'S ANS 1 -', 'C OUT - -',
  ])
  const c = d.commands
  assert.deepEqual(f(c, 'server', 'VER'), { chosen: 'MSNP9', chosenVersion: 9 })
  assert.equal(pick(c, 'server', 'RNG').dialect, 9)
  assert.deepEqual(f(c, 'server', 'RNG'), {
    sessionId: '11752099', address: '192.0.2.77:1863', host: '192.0.2.77', port: 1863, authScheme: 'CKI',
    cookie: '849102291.520491113.5811', caller: 'carol@example.org', callerName: 'Carol',
  })
  assert.deepEqual(f(c, 'client', 'ANS'), { account: 'alice@example.com', cookie: '849102291.520491113.5811', sessionId: '11752099' })
  assert.deepEqual(f(c, 'server', 'IRO'), { index: 1, total: 1, account: 'carol@example.org', displayName: 'Carol' })
  assert.deepEqual(f(c, 'server', 'USR'), {
    scheme: 'TWN', stage: 'S', challenge: 'lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1118234600,kpp=1,kv=5,ver=2.1.0173.1,tpf=79cf2f3758728c3fd109fcbee5f446d2',
    passportParams: { lc: '1033', id: '507', tw: '40', fs: '1', ru: 'http://messenger.msn.com', ct: '1118234600', kpp: '1', kv: '5', ver: '2.1.0173.1', tpf: '79cf2f3758728c3fd109fcbee5f446d2' },
  })
})

test('TV6: MSNP18 SSO login, GCF push, ADL, UUX, caps:extcaps presence, 241 with payload', () => {
  const d = decodeVector(itemsBySrv(TV.TV6), {})
  assertStreams(d)
  assert.deepEqual(key(d.commands), [
    'C VER 4 -', 'S VER 4 -', 'C CVR 5 -', 'S CVR 5 -', 'C USR 6 -', 'S GCF 0 198', 'S USR 6 -', 'C USR 7 -', 'S USR 7 -',
    'S SBS 0 -', 'S MSG - 453', 'C BLP 8 -', 'S BLP 8 -', 'C ADL 9 113', 'S ADL 9 -', 'C PRP 10 -', 'S PRP 10 -', 'C UUX 11 71',
    'S UUX 11 0', 'C UUX 12 130', 'S UUX 12 0', 'C CHG 13 -', 'S CHG 13 -', 'S NLN - -', 'S UBX - 61', 'C UUX 14 131',
    'S UUX 14 0', 'S CHL 0 -', 'C QRY 15 32', 'S QRY 15 -', 'C ADL 16 58', 'S 241 16 58', 'S FLN - -',
  ])
  const c = d.commands
  assert.deepEqual(f(c, 'client', 'USR', 0), { scheme: 'SSO', stage: 'I', account: 'alice@example.com' })
  assert.deepEqual(f(c, 'server', 'GCF'), { unsolicited: true })
  assert.deepEqual(f(c, 'server', 'USR', 0), {
    scheme: 'SSO', stage: 'S', policy: 'MBI_KEY_OLD', nonce: 'CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW',
  })
  const sso = f(c, 'client', 'USR', 1)
  assert.equal(sso.ticket, 't=EwB4AEXAMPLEonlyTICKET0123456789abcdef&p=')
  assert.equal(sso.mbiResponse, 'HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAKGyw9Tl9gcYNgtbGD77sMc1zrWMOpswkRF3147RA36kGiPwKJXinE2wBscvWfoMdAhkRLgG+uiP3M9Nw/fgtJsuTk3NzdZKXJ+7wyjeHkyfEvnbdi8zIm26nmjPitdPw58nVIk=')
  assert.equal(sso.machineGuid, '{3c4f5a6b-7d8e-4f90-a1b2-c3d4e5f60718}')
  assert.deepEqual(f(c, 'server', 'USR', 1), { stage: 'OK', account: 'alice@example.com', verified: true, restricted: false })
  assert.deepEqual(f(c, 'server', 'ADL'), { ok: true })
  assert.deepEqual(f(c, 'client', 'CHG'), {
    status: 'NLN', statusName: 'online', capabilities: 2789003324,
    capabilityFlags: ['inkGif', 'inkIsf', 'webcam', 'multiPacket', 'spaces', 'directIm', 'winks', 'voiceClips',
      'secureChannel', 'sipInvite', 'multiVideoVoice', 'p2pTurn', 'p2pBootstrapViaUun'],
    msnc: 10, clientVersion: '14.0', extendedCapabilities: 48, extendedCapabilityFlags: ['rtcVideo', 'p2pV2'],
  })
  const nln = f(c, 'server', 'NLN')
  assert.equal(nln.status, 'NLN')
  assert.equal(nln.networkId, 1)
  assert.equal(nln.account, 'bob@example.net')
  assert.equal(nln.displayName, 'Bob')
  assert.equal(nln.extendedCapabilities, 48)
  assert.equal((nln.msnObjectInfo as Fields).creator, 'bob@example.net')
  assert.deepEqual(f(c, 'server', 'UBX'), { networkId: 1, networkName: 'messenger', account: 'bob@example.net' })
  assert.deepEqual(f(c, 'client', 'QRY'), { productId: 'PROD0120PW!CCV9@' })
  const err = pick(c, 'server', '241')
  assert.equal(err.trId, 16)
  assert.deepEqual(err.fields, { error: { code: 241, name: 'InvalidXmlData', meaning: 'invalid ADL/RML content' } })
  assert.deepEqual(f(c, 'server', 'FLN'), { networkId: 1, networkName: 'messenger', account: 'carol@example.org' })
  assert.ok(c.every((x) => x.dialect === 18), 'everything after VER is MSNP18')
})

test('TV7: P2P data messages on two switchboards', () => {
  const conns = ['aliceSB', 'bobSB', 'bobSB']
  const d = decodeVector(TV.TV7.map((it, i) => ({ conn: conns[i]!, from: side(it.dir), bytes: bytesOf(it) })), {})
  assertStreams(d)
  assert.deepEqual(key(d.commands), ['C MSG 6 741', 'S MSG - 741', 'C MSG 3 142'])
  assert.deepEqual(d.commands[0]!.fields, { ack: 'D', ackMeaning: 'P2P data: ACK or NAK' })
  assert.deepEqual(d.commands[1]!.fields, { sender: 'alice@example.com', senderName: 'Alice A.' })
  assert.deepEqual(d.commands[2]!.fields, { ack: 'D', ackMeaning: 'P2P data: ACK or NAK' })
})

test('TV8: MSNP21 SDG and NFY', () => {
  const d = decodeVector(itemsBySrv(TV.TV8), { NS: 21 })
  assertStreams(d)
  assert.deepEqual(key(d.commands), ['C SDG 21 197', 'C SDG 22 321', 'S NFY - 255'])
  assert.deepEqual(d.commands[0]!.fields, {})
  assert.deepEqual(d.commands[2]!.fields, { operation: 'PUT' })
})

test('TV9: framer edge cases, whole and split at every offset', () => {
  const stream = Buffer.from(TV.TV9.stream_hex, 'hex')
  assert.equal(stream.length, 549)
  const d = decodeVector([{ conn: 'x', from: 'server', bytes: stream }], {})
  assertStreams(d)
  const c = d.commands
  assert.deepEqual(c.map((e) => e.payloadLength), TV.TV9.frames.map((fr) => fr.payloadLength))
  assert.deepEqual(c.map((e) => e.raw.subarray(0, e.raw.indexOf('\r\n')).toString()), TV.TV9.frames.map((fr) => fr.line))
  assert.deepEqual(key(c), ['S CHL 0 -', 'S UBX - 0', 'S USR 7 -', 'S MSG - 108', 'S ADL 0 67', 'S ADL 9 -', 'S NOT - 158', 'S 241 16 58', 'S QNG - -'])
  assert.deepEqual(c[0]!.fields, { challenge: '29184530004719236661' })
  assert.deepEqual(c[1]!.fields, { networkId: 1, networkName: 'messenger', account: 'bob@example.net' })
  assert.deepEqual(c[2]!.fields, { stage: 'OK', account: 'alice@example.com', verified: true, restricted: false })
  assert.deepEqual(c[3]!.fields, { sender: 'Hotmail', senderName: 'Hotmail' })
  assert.deepEqual(c[4]!.fields, { unsolicited: true })
  assert.deepEqual(c[5]!.fields, { ok: true })
  assert.equal((c[7]!.fields.error as { name: string }).name, 'InvalidXmlData')
  assert.deepEqual(c[8]!.fields, { seconds: 45 })
  const whole = c.map((e) => [summary(e), e.fields])
  for (let cut = 1; cut < stream.length; cut++) {
    const dec = new MsnpDecoder('server')
    const events = [...dec.push(stream.subarray(0, cut)), ...dec.push(stream.subarray(cut)), ...dec.end()]
    assert.deepEqual(events.map((e) => [summary(e), (e as CommandEvent).fields]), whole, `cut at ${cut}`)
  }
})
