import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { test } from 'node:test'
import { runLabScenario, SCENARIO_FILES, SCENARIO_TEXTS } from '../../src/lab/scenario.js'
import { startLabServer, type LabPeer } from '../../src/lab/server.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { EventLog, recordingTransport, type RecordedConnection } from '../helpers/lab.js'

const LAB_HOST = '127.0.0.3'
const DIAL_FROM = '127.0.0.4'

for (const dialect of [8, 12, 18]) {
  test(`a full MSNP${dialect} lab session through the proxy: every byte arrives, every connection goes through msnscope`, async (t) => {
    const received = new Map<number, Buffer[]>()
    const peers: LabPeer[] = []
    const lab = await startLabServer({
      host: LAB_HOST,
      allow: (peer) => peer.remoteAddress === DIAL_FROM,
      tap: (peer, bytes) => { const l = received.get(peer.id) ?? []; l.push(Buffer.from(bytes)); received.set(peer.id, l) },
    })
    lab.on('connection', (p) => peers.push(p))
    t.after(() => lab.close())
    const log = new EventLog()
    const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, dialFrom: DIAL_FROM })
    proxy.addSink(log.sink)
    const addr = await proxy.start()
    t.after(() => proxy.close())

    const sent: RecordedConnection[] = []
    const summary = await runLabScenario({ serverHost: addr.host, port: addr.port, dialect, transport: recordingTransport(sent) })

    // what the clients saw: the whole scenario went through
    const [alice, bob, carol] = summary.clients
    assert.ok(bob!.texts.includes(SCENARIO_TEXTS.hello))
    assert.ok(alice!.texts.includes(SCENARIO_TEXTS.reply))
    assert.ok(carol!.texts.includes(SCENARIO_TEXTS.second))
    assert.ok(bob!.typing.includes('alice@example.com'))
    assert.equal(bob!.nudges, 1)
    assert.deepEqual(bob!.invitations, [SCENARIO_FILES.declined])
    assert.deepEqual(carol!.invitations, [SCENARIO_FILES.accepted])

    // no client reached the lab server directly: every peer is the proxy's outgoing address
    assert.ok(peers.length >= 9, `peers: ${peers.length}`)
    for (const p of peers) {
      assert.equal(p.remoteAddress, DIAL_FROM, `lab peer ${p.id} (${p.role}) came from ${p.remoteAddress}`)
      assert.equal(p.refused, false)
    }
    // clients only ever connected to the proxy's own listeners
    for (const c of sent) assert.ok(proxy.address.port === c.port || c.port !== lab.ds.port && c.port !== lab.ns.port && c.port !== lab.sb.port, `client connected to ${c.port}`)

    // every client connection's bytes arrived unchanged at exactly one lab connection
    await Promise.all(peers.map((p) => p.closedAt !== undefined ? null : once(lab, 'connection-closed')))
    const serverStreams = peers.map((p) => Buffer.concat(received.get(p.id) ?? []).toString('hex'))
    assert.equal(sent.length, peers.length)
    for (const c of sent) {
      const bytes = Buffer.concat(c.sent).toString('hex')
      const at = serverStreams.indexOf(bytes)
      assert.ok(at >= 0, `a ${c.role} connection's ${bytes.length / 2} bytes did not arrive unchanged`)
      serverStreams.splice(at, 1)
    }

    // the events: roles, switchboards linked to their notification sessions, dialect inherited
    const opens = log.events.filter((e) => e.kind === 'session-open')
    assert.equal(opens.length, peers.length)
    const sbs = opens.filter((e) => e.role === 'SB')
    assert.equal(sbs.length, 4, 'two switchboards, two parties each')
    const sbConns = new Set(sbs.map((e) => e.conn))
    const sbCommands = log.commands().filter((e) => sbConns.has(e.conn))
    assert.ok(sbCommands.every((e) => e.dialect === dialect), 'switchboards inherit the dialect')
    assert.ok(sbCommands.every((e) => e.role === 'SB'))
    const closes = log.events.filter((e) => e.kind === 'session-close')
    await log.waitFor((e) => e.kind === 'session-close' && log.events.filter((x) => x.kind === 'session-close').length === opens.length)
    assert.equal(new Set(log.events.filter((e) => e.kind === 'session-close').map((e) => e.conn)).size, opens.length, 'exactly one close per connection')
    void closes
    const verbs = new Set(log.commands().map((e) => e.command.verb))
    for (const v of ['VER', 'USR', 'XFR', 'CHG', 'CAL', 'ANS', 'IRO', 'JOI', 'MSG', 'ACK', 'BYE', 'OUT']) assert.ok(verbs.has(v), `saw ${v}`)
    const redirects = log.events.filter((e) => e.kind === 'redirect')
    assert.ok(redirects.length >= 3 + 2 + 2, 'XFR NS for each client, XFR SB and RNG for each chat')
    for (const r of redirects) if (r.kind === 'redirect') assert.ok(r.handedOut !== null && r.handedOut.startsWith('127.0.0.1:'))
  })
}

test('switchboard connections are announced with the notification session that referred them', async (t) => {
  const lab = await startLabServer({ host: LAB_HOST })
  t.after(() => lab.close())
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, dialFrom: DIAL_FROM })
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  await runLabScenario({ serverHost: addr.host, port: addr.port, dialect: 12 })
  const opens = log.events.filter((e) => e.kind === 'session-open')
  const byConn = new Map(opens.map((e) => [e.conn, e]))
  const sbs = opens.filter((e) => e.role === 'SB')
  assert.equal(sbs.length, 4)
  for (const sb of sbs) {
    assert.ok(sb.kind === 'session-open' && sb.parent !== undefined, `${sb.conn} has a parent`)
    const parent = byConn.get(sb.kind === 'session-open' ? sb.parent! : '')
    assert.equal(parent?.role, 'NS')
    assert.equal(parent?.account, sb.account, 'the switchboard is its own notification session\'s account')
    assert.ok(sb.kind === 'session-open' && (sb.via === 'XFR' || sb.via === 'RNG'))
  }
  assert.deepEqual(sbs.map((e) => e.kind === 'session-open' && e.via).sort(), ['RNG', 'RNG', 'XFR', 'XFR'])
  // every event of a connection comes after its session-open
  const seen = new Set<string>()
  for (const e of log.events) {
    if (e.kind === 'session-open') seen.add(e.conn)
    else if (e.conn !== '-') assert.ok(seen.has(e.conn), `${e.kind} of ${e.conn} before its session-open`)
  }
})

test('msnscope read of a saved pcap yields the same command events as the live run', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { PcapWriter } = await import('../../src/sinks/pcap-writer.js')
  const { importCapture } = await import('../../src/transport/pcap-import.js')
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-save-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const lab = await startLabServer({ host: LAB_HOST })
  t.after(() => lab.close())
  const live = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, dialFrom: DIAL_FROM })
  const pcap = new PcapWriter(join(dir, 'lab.pcap'), null)
  proxy.addSink(live.sink)
  proxy.addSink(pcap.sink)
  const addr = await proxy.start()
  await runLabScenario({ serverHost: addr.host, port: addr.port, dialect: 12 })
  await proxy.close()
  pcap.close()

  const read = new EventLog()
  await importCapture(join(dir, 'lab.pcap'), read.sink)
  // per connection (by its endpoints) and direction, the same commands in the same order
  const key = (e: { client: string | null; server: string | null }): string => `${e.client} ${e.server}`
  const shape = (log: EventLog): Map<string, string[]> => {
    const m = new Map<string, string[]>()
    for (const e of log.commands()) {
      const k = `${key(e)} ${e.command.from}`
      const l = m.get(k) ?? []
      l.push(`${e.command.verb} ${e.command.trId} ${e.command.args.join(' ')} ${e.command.payloadLength} ${e.command.raw.toString('hex')}`)
      m.set(k, l)
    }
    return m
  }
  const a = shape(live)
  const b = shape(read)
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort())
  for (const [k, cmds] of a) assert.deepEqual(b.get(k), cmds, k)
  // and by the end of each connection the capture knows the same roles and accounts (a capture
  // learns that a connection is a dispatch server only from its XFR NS)
  const roles = (log: EventLog): string[] => log.events.filter((e) => e.kind === 'session-close').map((e) => `${key(e)} ${e.role} ${e.account}`).sort()
  assert.deepEqual(roles(read), roles(live))
  assert.equal(read.events.filter((e) => e.kind === 'malformed' || e.kind === 'gap').length, 0)
})
