import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { test } from 'node:test'
import { LabClient } from '../../src/lab/client.js'
import { startLabServer } from '../../src/lab/server.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { EventLog } from '../helpers/lab.js'

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1')
  await once(s, 'connect')
  return s
}

/** Reads lines from a socket until one matches. */
function readUntil(socket: net.Socket, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const onData = (b: Buffer): void => {
      text += b.toString('latin1')
      if (re.test(text)) { socket.off('data', onData); resolve(text) }
    }
    socket.on('data', onData)
    socket.once('close', () => reject(new Error(`closed before ${re}; got ${JSON.stringify(text)}`)))
  })
}

async function labBehindProxy(t: import('node:test').TestContext, options: Partial<ConstructorParameters<typeof TcpProxy>[0]> = {}) {
  const lab = await startLabServer({ host: '127.0.0.1' })
  t.after(() => lab.close())
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, ...options })
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  return { lab, log, proxy, addr }
}

async function signedIn(addr: { host: string; port: number }, account: string): Promise<LabClient> {
  const c = new LabClient({ account, dialect: 12, host: addr.host, port: addr.port, name: account.split('@')[0]!, contacts: [] })
  await c.login()
  await c.setPresence('NLN')
  return c
}

test('a client announcing an absurd payload length loses only its own connection', async (t) => {
  const { log, addr } = await labBehindProxy(t, { limits: { maxPayload: 65536 } })
  const good = await signedIn(addr, 'alice@example.com')
  t.after(() => good.close())
  const bad = await connect(addr.port)
  bad.write('VER 1 MSNP12 CVR0\r\n')
  await readUntil(bad, /VER 1 MSNP12/)
  bad.write('MSG 2 N 99999999999\r\n')
  await once(bad, 'close')
  const limit = await log.waitFor((e) => e.kind === 'limit' && e.limit === 'max-payload')
  const closed = await log.waitFor((e) => e.kind === 'session-close' && e.conn === limit.conn)
  assert.match(closed.kind === 'session-close' ? closed.reason : '', /limit/)
  const malformed = log.events.find((e) => e.kind === 'malformed' && e.conn === limit.conn)
  assert.ok(malformed !== undefined && malformed.kind === 'malformed' && malformed.code === 'payload-too-large')
  // the other session carries on
  await good.ping()
  await good.setPresence('AWY')
})

test('garbage lines from a client are reported and forwarded unchanged to the server', async (t) => {
  const seen: Buffer[] = []
  const lab = await startLabServer({ host: '127.0.0.1', tap: (_p, b) => { seen.push(Buffer.from(b)) } })
  t.after(() => lab.close())
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds })
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const s = await connect(addr.port)
  t.after(() => s.destroy())
  s.write('VER 1 MSNP12 CVR0\r\n')
  await readUntil(s, /VER 1 MSNP12/)
  s.write('\x00\x01 hello\r\n')
  const m = await log.waitFor((e) => e.kind === 'malformed')
  assert.ok(m.kind === 'malformed' && m.code === 'not-a-command' && m.from === 'client')
  await new Promise<void>((resolve) => {
    const check = (): void => { if (Buffer.concat(seen).includes('\x00\x01 hello\r\n')) resolve(); else setImmediate(check) }
    check()
  })
})

test('a server that sends nonsense or an absurd length ends only that connection', async (t) => {
  const evil = net.createServer((c) => {
    c.on('data', (b: Buffer) => {
      if (b.toString().startsWith('VER')) c.write('VER 1 MSNP12\r\nMSG Hotmail Hotmail 88888888888\r\n')
    })
    c.on('error', () => {})
  })
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r))
  t.after(() => evil.close())
  const lab = await startLabServer({ host: '127.0.0.1' })
  t.after(() => lab.close())
  const log = new EventLog()
  const evilProxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: (evil.address() as net.AddressInfo).port } })
  evilProxy.addSink(log.sink)
  const evilAddr = await evilProxy.start()
  t.after(() => evilProxy.close())
  const goodProxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, hub: evilProxy.hub })
  const goodAddr = await goodProxy.start()
  t.after(() => goodProxy.close())
  const good = await signedIn(goodAddr, 'bob@example.net')
  t.after(() => good.close())

  const s = await connect(evilAddr.port)
  s.write('VER 1 MSNP12 CVR0\r\n')
  await once(s, 'close')
  const limit = await log.waitFor((e) => e.kind === 'limit')
  assert.ok(limit.kind === 'limit' && limit.detail.startsWith('server:'))
  await good.ping()
})

test('a client that stops reading pauses the server instead of filling the proxy', async (t) => {
  let serverSide: net.Socket | undefined
  let flooded!: () => void
  const full = new Promise<void>((resolve) => { flooded = resolve })
  const flood = net.createServer((c) => {
    serverSide = c
    c.on('error', () => {})
    c.once('data', () => {
      // a server pushing presence changes as fast as the socket takes them
      const line = Buffer.from(`NLN NLN bob@example.net Bob ${'x'.repeat(200)} 0\r\n`)
      const chunk = Buffer.concat(Array.from({ length: 256 }, () => line))
      const pump = (): void => {
        while (c.writable && c.writableLength < 8 * 1024 * 1024) c.write(chunk)
        if (c.writableLength >= 8 * 1024 * 1024) flooded()
      }
      pump()
    })
  })
  await new Promise<void>((r) => flood.listen(0, '127.0.0.1', r))
  t.after(() => flood.close())
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: (flood.address() as net.AddressInfo).port } })
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const client = await connect(addr.port)
  t.after(() => client.destroy())
  client.pause() // and never reads
  client.write('VER 1 MSNP12 CVR0\r\n')
  await full
  // wait until the proxy has stopped pulling: the server's queue no longer shrinks
  let last = -1
  while (serverSide!.writableLength !== last) {
    last = serverSide!.writableLength
    await new Promise((r) => setTimeout(r, 50))
  }
  const relay = [...proxy.relays][0]!
  assert.ok(relay.client.writableLength < 4 * 1024 * 1024, `proxy holds ${relay.client.writableLength} bytes for the client`)
  assert.ok(serverSide!.writableLength >= 4 * 1024 * 1024, `server still holds ${serverSide!.writableLength} bytes`)
})

test('an upstream that refuses closes the client with the reason', async (t) => {
  const closed = net.createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as net.AddressInfo).port
  await new Promise<void>((r) => closed.close(() => r()))
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port } })
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const s = await connect(addr.port)
  s.write('VER 1 MSNP8 CVR0\r\n')
  await once(s, 'close')
  const e = await log.waitFor((x) => x.kind === 'session-close')
  assert.match(e.kind === 'session-close' ? e.reason : '', new RegExp(`upstream 127\\.0\\.0\\.1:${port} unreachable: ECONNREFUSED`))
})

test('a vanished client ends only its own connection', async (t) => {
  const { lab, log, addr } = await labBehindProxy(t)
  const a = await signedIn(addr, 'alice@example.com')
  const b = await signedIn(addr, 'bob@example.net')
  t.after(() => { a.close(); b.close() })
  const raw = await connect(addr.port)
  raw.write('VER 1 MSNP12 CVR0\r\n')
  await readUntil(raw, /VER 1/)
  raw.resetAndDestroy()
  const gone = await log.waitFor((e) => e.kind === 'session-close' && /client/.test(e.reason) && e.role === 'DS' && e.account == null)
  assert.ok(gone.kind === 'session-close')
  await a.ping()
  await b.ping()
  void lab
})

test('connections beyond the cap are refused with a limit event', async (t) => {
  const { log, addr } = await labBehindProxy(t, { maxConnections: 1 })
  const first = await connect(addr.port)
  t.after(() => first.destroy())
  first.write('VER 1 MSNP12 CVR0\r\n')
  await readUntil(first, /VER 1/)
  const second = await connect(addr.port)
  await once(second, 'close')
  const e = await log.waitFor((x) => x.kind === 'limit' && x.limit === 'max-connections')
  assert.match(e.kind === 'limit' ? e.detail : '', /1 connections open/)
  first.write('CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs alice@example.com\r\n')
  await readUntil(first, /CVR 2/)
})

test('an idle connection is closed with a limit event', async (t) => {
  const { log, addr } = await labBehindProxy(t, { idleTimeoutMs: 200 })
  const s = await connect(addr.port)
  s.resume()
  s.write('VER 1 MSNP12 CVR0\r\n')
  await once(s, 'close')
  const e = await log.waitFor((x) => x.kind === 'limit' && x.limit === 'idle-timeout')
  const closed = await log.waitFor((x) => x.kind === 'session-close' && x.conn === e.conn)
  assert.equal(closed.kind === 'session-close' && closed.reason, 'idle timeout')
})

test('a server that vanishes mid-session closes the client side with the reason', async (t) => {
  const upstream = net.createServer((c) => {
    c.on('error', () => {})
    c.once('data', () => { c.write('VER 1 MSNP12\r\n'); setImmediate(() => c.resetAndDestroy()) })
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  t.after(() => upstream.close())
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port } })
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const s = await connect(addr.port)
  s.write('VER 1 MSNP12 CVR0\r\n')
  const got = await readUntil(s, /VER 1 MSNP12/)
  assert.match(got, /^VER 1 MSNP12\r\n/)
  await once(s, 'close')
  const e = await log.waitFor((x) => x.kind === 'session-close')
  assert.match(e.kind === 'session-close' ? e.reason : '', /server (vanished|error|closed)|upstream error/)
})
