import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { test } from 'node:test'
import { SocksClient } from 'socks'
import type { LabTransport } from '../../src/lab/channel.js'
import { runLabScenario, SCENARIO_TEXTS } from '../../src/lab/scenario.js'
import { startLabServer } from '../../src/lab/server.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { EventLog } from '../helpers/lab.js'

/** Lab clients that reach every server through a SOCKS proxy, with the `socks` package (not msnscope's code). */
function socksTransport(proxy: { host: string; port: number }, type: 4 | 5): LabTransport {
  return {
    connect: async (target) => {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: proxy.host, port: proxy.port, type }, command: 'connect',
        destination: { host: target.host, port: target.port },
      })
      return socket
    },
  }
}

for (const type of [5, 4] as const) {
  test(`a lab session through msnscope's SOCKS${type} listener shows its notification and switchboard commands`, async (t) => {
    const lab = await startLabServer({ host: '127.0.0.3', allow: (p) => p.remoteAddress === '127.0.0.4' })
    t.after(() => lab.close())
    const log = new EventLog()
    const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: 9 }, mode: 'socks5', dialFrom: '127.0.0.4' })
    proxy.addSink(log.sink)
    const addr = await proxy.start()
    t.after(() => proxy.close())
    const summary = await runLabScenario({ serverHost: lab.ds.host, port: lab.ds.port, dialect: 12, transport: socksTransport(addr, type) })
    assert.ok(summary.clients[1]!.texts.includes(SCENARIO_TEXTS.hello))
    assert.ok(lab.peers.every((p) => p.remoteAddress === '127.0.0.4' && !p.refused))
    const roles = new Set(log.events.filter((e) => e.kind === 'session-open').map((e) => e.role))
    await log.waitFor((e) => e.kind === 'session-close' && e.role === 'SB')
    const cmds = log.commands()
    const nsVerbs = new Set(cmds.filter((e) => e.role === 'NS').map((e) => e.command.verb))
    const sbVerbs = new Set(cmds.filter((e) => e.role === 'SB').map((e) => e.command.verb))
    for (const v of ['USR', 'CHG', 'XFR', 'RNG']) assert.ok(nsVerbs.has(v), `NS ${v}`)
    for (const v of ['USR', 'CAL', 'ANS', 'JOI', 'MSG', 'ACK']) assert.ok(sbVerbs.has(v), `SB ${v}`)
    void roles
    // referrals are left alone: the client comes back through SOCKS by itself
    const redirects = log.events.filter((e) => e.kind === 'redirect')
    assert.ok(redirects.length > 0 && redirects.every((r) => r.kind === 'redirect' && r.handedOut === null && /SOCKS/.test(r.note ?? '')))
  })
}

test('a non-MSNP stream through the SOCKS listener is relayed untouched and not decoded', async (t) => {
  const echo = net.createServer((c) => c.pipe(c))
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
  t.after(() => echo.close())
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: 9 }, mode: 'socks5' })
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const { socket } = await SocksClient.createConnection({
    proxy: { host: addr.host, port: addr.port, type: 5 }, command: 'connect',
    destination: { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port },
  })
  const payload = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n\x00\x01\x02binary')
  socket.write(payload)
  const chunks: Buffer[] = []
  while (Buffer.concat(chunks).length < payload.length) {
    const [c] = await once(socket, 'data') as [Buffer]
    chunks.push(c)
  }
  assert.deepEqual(Buffer.concat(chunks), payload)
  socket.destroy()
  assert.equal(log.events.filter((e) => e.kind === 'command').length, 0)
})

test('a SOCKS request for an unreachable target gets a SOCKS failure reply', async (t) => {
  const closed = net.createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as net.AddressInfo).port
  await new Promise<void>((r) => closed.close(() => r()))
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: 9 }, mode: 'socks5' })
  const addr = await proxy.start()
  t.after(() => proxy.close())
  await assert.rejects(SocksClient.createConnection({
    proxy: { host: addr.host, port: addr.port, type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port },
  }), /Host unreachable|Socks5 proxy rejected/)
})
