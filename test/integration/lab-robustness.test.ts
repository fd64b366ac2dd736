/** Misbehaving peers end only their own connection; every other session carries on. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { startLabServer, type LabPeer, type LabServer, type LabServerOptions } from '../../src/lab/server.js'
import { LabClient } from '../../src/lab/client.js'
import type { Chat } from '../../src/lab/chat.js'
import { WirePeer } from '../helpers/lab-peer.js'

const HOST = '127.0.0.3'
type T = { after: (fn: () => Promise<void>) => void }

async function lab(t: T, options: Partial<LabServerOptions> = {}): Promise<LabServer> {
  const server = await startLabServer({ host: HOST, ...options })
  t.after(() => server.close())
  return server
}

async function peer(t: T, port: number, dialect: number | null = null): Promise<WirePeer> {
  const p = await WirePeer.connect(HOST, port, dialect)
  t.after(async () => p.close())
  return p
}

/** Alice and Bob signed in (MSNP12) with a switchboard open between them. */
async function liveChat(t: T, server: LabServer): Promise<{ alice: LabClient; bob: LabClient; chat: Chat; bobChat: Chat }> {
  const opts = { dialect: 12, host: HOST, port: server.ds.port }
  const alice = new LabClient({ ...opts, account: 'alice@example.com' })
  const bob = new LabClient({ ...opts, account: 'bob@example.net' })
  t.after(async () => { alice.close(); bob.close() })
  for (const c of [alice, bob]) {
    await c.login()
    await c.setPresence()
  }
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  return { alice, bob, chat, bobChat }
}

/** The server's record of a test peer, once the server has seen its connection end. */
async function closedPeer(server: LabServer, p: WirePeer): Promise<LabPeer> {
  const found = server.peers.find((x) => x.remotePort === p.localPort)
  assert.ok(found !== undefined)
  while (found.closedAt === undefined) await once(server, 'connection-closed')
  return found
}

test('garbage, an absurd payload length and an over-long line end only the sender\'s connection', async (t) => {
  const server = await lab(t)
  const { alice, chat, bobChat } = await liveChat(t, server)

  const garbage = await peer(t, server.ns.port)
  garbage.write('hello there, server\r\n')
  const reply = await garbage.next()
  assert.deepEqual([reply.verb, reply.trId], ['200', 0])
  await garbage.closed

  const huge = await peer(t, server.ns.port, 12)
  huge.write('VER 1 MSNP12 CVR0\r\n')
  await huge.next()
  huge.write('UUX 2 99999999999\r\n')
  await huge.closed

  const sbHuge = await peer(t, server.sb.port)
  sbHuge.write('MSG 1 A 4294967295\r\nxyz')
  await sbHuge.closed

  const long = await peer(t, server.ds.port)
  long.write(Buffer.alloc(20_000, 0x41))
  await long.closed

  const binary = await peer(t, server.sb.port)
  binary.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a]))
  await binary.closed

  for (const p of [garbage, huge, sbHuge, long, binary]) {
    assert.match((await closedPeer(server, p)).closeReason ?? '', /^malformed input/)
  }
  await chat.sendText('still here')
  await bobChat.waitFor('text', (m) => m.text === 'still here')
  await alice.ping()
  assert.deepEqual(server.online().sort(), ['alice@example.com', 'bob@example.net'])
})

test('a client that vanishes mid-command: its chats see BYE, its contacts FLN, the others carry on', async (t) => {
  const server = await lab(t)
  const { alice, bob, chat, bobChat } = await liveChat(t, server)
  const carol = new LabClient({ account: 'carol@example.org', dialect: 12, host: HOST, port: server.ds.port })
  t.after(async () => carol.close())
  await carol.login()
  await carol.setPresence()

  bobChat.channel.conn.socket.write('MSG 9 A 100\r\nonly part of the payl')
  bob.close()
  await chat.waitFor('left', (l) => l.account === 'bob@example.net')
  await alice.waitFor('offline', (o) => o.account === 'bob@example.net')
  await carol.waitFor('offline', (o) => o.account === 'bob@example.net')
  assert.deepEqual(server.online().sort(), ['alice@example.com', 'carol@example.org'])
  assert.deepEqual(chat.seen('text'), [], 'the half-sent message was never relayed')

  const chat2 = await alice.openChat('carol@example.org')
  const carolChat = await carol.waitFor('chat')
  await chat2.sendText('are you there?')
  await carolChat.waitFor('text', (m) => m.text === 'are you there?')
  await chat.sendText('alone').then(() => assert.fail('no one to deliver to'), () => {})
})

test('a second sign-in of the same account signs the first out with OUT OTH', async (t) => {
  const server = await lab(t)
  const opts = { account: 'alice@example.com', dialect: 15, host: HOST, port: server.ds.port }
  const first = new LabClient(opts)
  const second = new LabClient(opts)
  t.after(async () => { first.close(); second.close() })
  await first.login()
  await second.login()
  assert.equal((await first.waitFor('signed-out')).reason, 'OTH')
  await first.waitFor('closed')
  await second.setPresence()
  assert.deepEqual(server.online(), ['alice@example.com'])
})

test('a silent peer is dropped after the idle timeout; refused peers are reported and closed', async (t) => {
  const server = await lab(t, { idleTimeoutMs: 50, allow: (p) => p.role !== 'SB' })
  const silent = await peer(t, server.ns.port)
  await silent.closed
  assert.equal((await closedPeer(server, silent)).closeReason, 'idle timeout')

  const refused = await peer(t, server.sb.port)
  await refused.closed
  const info = await closedPeer(server, refused)
  assert.equal(info.refused, true)
  assert.match(info.remoteAddress, /^127\./)
})

test('a peer that stops reading is dropped once its output queue is full; the sender carries on', async (t) => {
  const server = await lab(t, { maxOutputBytes: 64 * 1024 })
  const { alice, chat, bobChat } = await liveChat(t, server)
  const bobSb = server.peers.find((p) => p.role === 'SB' && p.remotePort === bobChat.channel.conn.socket.localPort)
  assert.ok(bobSb !== undefined)
  bobChat.channel.conn.socket.pause()

  const body = Buffer.alloc(100 * 1024, 0x61)
  const payload = Buffer.concat([Buffer.from('MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n'), body])
  const socket = chat.channel.conn.socket
  let sent = 0
  const pump = (): void => {
    while (bobSb.closedAt === undefined && sent < 1000) {
      chat.channel.post('MSG', ['U'], payload)
      sent++
      if (socket.writableLength > 0) return void socket.once('drain', pump)
    }
  }
  pump()
  while (bobSb.closedAt === undefined) await once(server, 'connection-closed')
  assert.match(bobSb.closeReason ?? '', /not reading/)
  await chat.waitFor('left', (l) => l.account === 'bob@example.net')
  await alice.ping()
})
