/** The lab scenario straight against the lab server over loopback, in three dialects. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { startLabServer, type LabServer } from '../../src/lab/server.js'
import { runLabScenario, SCENARIO_FILES, SCENARIO_TEXTS } from '../../src/lab/scenario.js'
import { LabClient } from '../../src/lab/client.js'
import { P2P_HEADER_SIZE, decodeP2PHeader } from '../../src/lab/p2p.js'

const HOST = '127.0.0.3'

async function lab(t: { after: (fn: () => Promise<void>) => void }): Promise<LabServer> {
  const server = await startLabServer({ host: HOST })
  t.after(() => server.close())
  return server
}

/** Resolves once every socket the server accepted has closed. */
async function allClosed(server: LabServer): Promise<void> {
  while (server.peers.some((p) => p.closedAt === undefined)) await once(server, 'connection-closed')
}

for (const dialect of [8, 12, 18]) {
  test(`scenario over MSNP${dialect}: presence, two switchboards, text, typing, nudge, invitations, P2P`, async (t) => {
    const server = await lab(t)
    const summary = await runLabScenario({ serverHost: HOST, port: server.ds.port, dialect })
    await allClosed(server)

    assert.equal(summary.dialect, dialect)
    assert.equal(summary.switchboards, 2)
    const [alice, bob, carol] = summary.clients
    assert.ok(alice !== undefined && bob !== undefined && carol !== undefined)
    assert.deepEqual([alice.account, bob.account, carol.account], ['alice@example.com', 'bob@example.net', 'carol@example.org'])

    assert.deepEqual(bob.texts, [SCENARIO_TEXTS.hello, SCENARIO_TEXTS.secondReply])
    assert.deepEqual(bob.typing, ['alice@example.com'])
    assert.equal(bob.nudges, 1)
    assert.deepEqual(bob.invitations, [SCENARIO_FILES.declined])
    assert.deepEqual(bob.invitationReplies, ['ACCEPT'])
    assert.deepEqual(bob.p2p, dialect >= 9 ? ['INVITE MSNMSGR:bob@example.net MSNSLP/1.0'] : [])

    assert.deepEqual(alice.texts, [SCENARIO_TEXTS.reply])
    assert.deepEqual(alice.invitationReplies, ['CANCEL'])
    assert.deepEqual(carol.texts, [SCENARIO_TEXTS.second])
    assert.deepEqual(carol.invitations, [SCENARIO_FILES.accepted])
    assert.deepEqual(carol.invitationReplies, ['ACCEPT'])

    for (const c of summary.clients) {
      assert.ok(c.sent > 10 && c.received > c.sent, `${c.account} traffic ${c.sent}/${c.received}`)
      assert.equal(c.receivedByVerb.QRY, 1, `${c.account} answered its challenge`)
    }
    assert.equal(alice.sentByVerb.XFR, 1)
    assert.equal(bob.sentByVerb.XFR, 1)
    assert.equal(bob.receivedByVerb.RNG, 1)
    assert.equal(carol.receivedByVerb.RNG, 1)
    assert.ok(server.peers.every((p) => p.remoteAddress.startsWith('127.')), 'only loopback peers')
    // per client: DS, NS, and one SB per conversation (alice 1, bob 2, carol 1)
    assert.deepEqual(['DS', 'NS', 'SB'].map((r) => server.peers.filter((p) => p.role === r).length), [3, 3, 4])
  })
}

test('a P2P message carries a well-formed 48-byte header and is acknowledged by the receiver', async (t) => {
  const server = await lab(t)
  const opts = { dialect: 12, host: HOST, port: server.ds.port }
  const alice = new LabClient({ ...opts, account: 'alice@example.com' })
  const bob = new LabClient({ ...opts, account: 'bob@example.net' })
  t.after(async () => { alice.close(); bob.close() })
  await alice.login()
  await bob.login()
  await alice.setPresence()
  await bob.setPresence()
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  const ack = await chat.sendP2P()

  const raw = await bobChat.waitFor('message', (m) => m.contentType === 'application/x-msnmsgrp2p')
  assert.equal(raw.headers.get('p2p-dest'), 'bob@example.net')
  const h = decodeP2PHeader(raw.body)!
  assert.equal(h.sessionId, 0)
  assert.equal(h.offset, 0)
  assert.equal(h.flags, 0)
  assert.equal(h.messageLength, h.totalSize)
  assert.equal(raw.body.length, P2P_HEADER_SIZE + h.messageLength + 4)
  assert.equal(raw.body.readUInt32BE(raw.body.length - 4), 0, 'footer: SLP signalling')
  const slp = raw.body.subarray(P2P_HEADER_SIZE, P2P_HEADER_SIZE + h.messageLength).toString('utf8')
  assert.match(slp, /^INVITE MSNMSGR:bob@example\.net MSNSLP\/1\.0\r\n/)
  const body = slp.slice(slp.indexOf('\r\n\r\n') + 4)
  assert.equal(Buffer.byteLength(body), Number(/Content-Length: (\d+)/.exec(slp)![1]), 'SLP Content-Length counts the body and its NUL')
  assert.ok(body.endsWith('\0'))
  assert.equal(Buffer.from(/Context: (\S+)/.exec(body)![1]!, 'base64').toString('utf8'), `${bob.msnobj}\0`, 'asks for the object Bob announced')

  assert.equal(ack.flags, 2)
  assert.equal(ack.ackIdentifier, h.identifier)
  assert.equal(ack.ackUniqueId, h.ackIdentifier)
  assert.equal(ack.ackDataSize, h.totalSize)
  assert.equal(ack.messageLength, 0)
  const p2p = await bobChat.waitFor('p2p')
  assert.equal(p2p.header.identifier, h.identifier)
})
