import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseFilter } from '../../src/filter.js'
import { LabClient } from '../../src/lab/client.js'
import { startLabServer } from '../../src/lab/server.js'
import { encodeCommand } from '../../src/protocol/encoder.js'
import { passThrough } from '../../src/rules/decision.js'
import { Interceptor } from '../../src/transport/intercept.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { EventLog } from '../helpers/lab.js'

test('intercept holds matching commands until released, and an edited release reaches the other side', async (t) => {
  const lab = await startLabServer({ host: '127.0.0.1' })
  t.after(() => lab.close())
  const log = new EventLog()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds })
  const interceptor = new Interceptor(proxy.hub)
  proxy.decider = interceptor.wrap(() => passThrough)
  proxy.addSink(log.sink)
  const addr = await proxy.start()
  t.after(() => { interceptor.releaseAll(); return proxy.close() })
  const mk = (account: string, name: string): LabClient => new LabClient({ account, dialect: 12, host: addr.host, port: addr.port, name, contacts: ['alice@example.com', 'bob@example.net'].filter((a) => a !== account) })
  const alice = mk('alice@example.com', 'Alice')
  const bob = mk('bob@example.net', 'Bob')
  t.after(() => { alice.close(); bob.close() })
  for (const c of [alice, bob]) { await c.login(); await c.setPresence('NLN') }
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')

  const filter = parseFilter('~verb MSG & ~from client & ~ct text/plain')
  assert.ok(filter !== null)
  interceptor.filter = filter
  const sending = chat.sendText('hello')
  const held = await log.waitFor((e) => e.kind === 'command' && e.tags?.includes('held') === true)
  assert.equal(held.kind === 'command' && held.command.verb, 'MSG')
  assert.equal(interceptor.holding, 1)
  // the other direction and the other connections flow while the message waits
  bobChat.sendTyping()
  await chat.waitFor('typing')
  await alice.ping()
  assert.equal(bobChat.seen('text').length, 0, 'the held message has not arrived')

  if (held.kind !== 'command') return
  const edited = encodeCommand({ verb: 'MSG', trId: held.command.trId, args: held.command.args, payloadRaw: Buffer.from(held.command.payloadRaw!.toString('utf8').replace('hello', 'HELLO, edited'), 'utf8') })
  assert.equal(interceptor.release(held.seq, edited), true)
  await sending
  const got = await bobChat.waitFor('text')
  assert.equal(got.text, 'HELLO, edited')
  const final = await log.waitFor((e) => e.kind === 'command' && e.tags?.includes(`released:${held.seq}`) === true)
  assert.ok(final.kind === 'command' && final.action === 'rewrite' && final.rule === 'intercept')
  assert.equal(interceptor.release(held.seq), false, 'a command is released once')
})
