/**
 * Rules on live traffic: lab clients and the lab server with msnscope between them, over TCP and
 * through the HTTP gateway. Blocking keeps both ends consistent (clean login failures, declines,
 * NAK), rewrites and injections arrive well formed, and broken rules never stop the traffic.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { ScopeEvent } from '../../src/events.js'
import { LabClient } from '../../src/lab/client.js'
import { startLabServer, type LabServer } from '../../src/lab/server.js'
import { LabReplyError } from '../../src/lab/wire.js'
import { RuleEngine } from '../../src/rules/engine.js'
import { installPresets, RuleFiles, systemClock } from '../../src/rules/load.js'
import type { Rule } from '../../src/rules/rule.js'
import { validateRules } from '../../src/rules/validate.js'
import { EventHub } from '../../src/transport/hub.js'
import { SessionTracker } from '../../src/session/tracker.js'
import { EventLog, msnscopeInFront } from '../helpers/lab.js'

const LAB_HOST = '127.0.0.3'
type Path = 'tcp' | 'gateway'

interface Setup {
  lab: LabServer
  /** bytes the lab server received, over all its connections */
  received: { bytes: number }
  /** requests the lab gateway received (gateway path) */
  gatewayRequests: () => number
  engine: RuleEngine
  log: EventLog
  client(account: string): LabClient
}

/** The lab server, msnscope in front of it (TCP proxy or HTTP gateway) deciding with `engine`. */
async function setup(t: TestContext, path: Path, rules: Rule[] = []): Promise<Setup> {
  const received = { bytes: 0 }
  const lab = await startLabServer({ host: LAB_HOST, tap: (_p, b) => { received.bytes += b.length } })
  t.after(() => lab.close())
  const engine = new RuleEngine({ clock: systemClock })
  if (rules.length > 0) engine.setRules('test rules', validateRules(rules, 'test rules'))
  const hub = new EventHub()
  const tracker = new SessionTracker()
  const log = new EventLog()
  hub.addSink(log.sink)
  hub.addSink(engine.observe)
  let gatewayRequests = (): number => 0
  const connect = await msnscopeInFront(t, lab, path, { hub, tracker, decider: engine.decide, labHost: LAB_HOST, onLabGateway: (g) => { gatewayRequests = () => g.requests.length } })
  const clients: LabClient[] = []
  t.after(() => { for (const c of clients) c.close() })
  return {
    lab, received, engine, log, gatewayRequests: () => gatewayRequests(),
    client: (account) => {
      const c = new LabClient({ account, dialect: 12, ...connect })
      clients.push(c)
      return c
    },
  }
}

/** alice and bob signed in, online, in one conversation. */
async function chatting(s: Setup) {
  const alice = s.client('alice@example.com')
  const bob = s.client('bob@example.net')
  await alice.login()
  await bob.login()
  await alice.setPresence()
  await bob.setPresence()
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  await bobChat.waitFor('joined', (j) => j.account === 'alice@example.com')
  return { alice, bob, chat, bobChat }
}

const commandEvents = (log: EventLog, pred: (e: Extract<ScopeEvent, { kind: 'command' }>) => boolean) => log.commands().filter(pred)

for (const path of ['tcp', 'gateway'] as const) {
  test(`--block-all: the lab client's sign-in fails cleanly (${path})`, async (t) => {
    const s = await setup(t, path)
    await installPresets(s.engine, { blockAll: true })
    const alice = s.client('alice@example.com')
    await assert.rejects(alice.login(), (err: unknown) => err instanceof LabReplyError && /refused MSNP12/.test(err.message))
    assert.deepEqual(s.lab.online(), [])
    assert.equal(s.received.bytes, 0, 'no MSNP byte reached the server')
    // through the gateway, the real one is not even asked to open a session
    assert.equal(s.gatewayRequests(), 0, 'no request reached the gateway')
    const ver = commandEvents(s.log, (e) => e.command.verb === 'VER')
    assert.equal(ver[0]?.action, 'block')
    assert.equal(ver[0]?.rule, 'block-all')
    assert.equal(s.engine.counters()['rule:block-all'], 1)
    if (path === 'gateway') {
      const answer = s.log.events.find((e) => e.kind === 'http' && e.from === 'server')
      assert.ok(answer?.kind === 'http' && answer.sessionClose === true && /gateway was not asked/.test(answer.note ?? ''), JSON.stringify(answer))
      assert.ok(s.log.events.some((e) => e.kind === 'session-close' && /gateway was not asked/.test(e.reason)))
    }
  })

  test(`a blocked file transfer: both clients see a decline and the chat goes on (${path})`, async (t) => {
    const s = await setup(t, path)
    await installPresets(s.engine, { blockFileTransfers: true })
    const { chat, bobChat } = await chatting(s)
    const cookie = await chat.sendFileInvite('holiday.exe', 4096)
    const reply = await chat.inviteReply(cookie)
    assert.equal(reply.command, 'CANCEL')
    assert.equal(reply.from, 'bob@example.net')
    assert.equal(reply.fields.get('cancel-code'), 'REJECT')
    const seen = await bobChat.waitFor('invite-reply', (r) => r.cookie === cookie)
    assert.equal(seen.command, 'CANCEL')
    assert.equal(seen.from, 'alice@example.com')
    await chat.sendText('are you still there?')
    await bobChat.waitFor('text', (m) => m.text === 'are you still there?')
    assert.equal(bobChat.seen('invite').length, 0, 'bob never saw the invitation')
    const blocked = commandEvents(s.log, (e) => e.action === 'block' && e.rule === 'block-file-transfers')
    assert.equal(blocked.length, 1)
  })
}

test('a blocked P2P invitation is acknowledged and declined with MSNSLP 603', async (t) => {
  const s = await setup(t, 'tcp', [{ name: 'no p2p', match: (c) => c.payload?.kind === 'p2p' && (c.payload.slp as { method?: string } | undefined)?.method === 'INVITE', action: 'block' }])
  const { chat, bobChat } = await chatting(s)
  const ack = await chat.sendP2P()
  assert.equal(ack.flags & 0x2, 0x2)
  const decline = await chat.waitFor('p2p', (p) => p.slp !== null)
  assert.equal(decline.slp, 'MSNSLP/1.0 603 Decline')
  assert.equal(decline.from, 'bob@example.net')
  await chat.sendText('fine, no picture')
  await bobChat.waitFor('text', (m) => m.text === 'fine, no picture')
  assert.equal(bobChat.seen('p2p').length, 0)
  // alice's acknowledgement of the decline went nowhere, and was acknowledged itself
  await s.log.waitFor((e) => e.kind === 'command' && e.rule === 'msnscope:own-p2p-ack')
})

for (const path of ['tcp', 'gateway'] as const) {
  test(`a rewrite turns "hello" into "HELLO" and the receiver gets a correct payload length (${path})`, async (t) => {
    const s = await setup(t, path, [{ name: 'shout', match: { verb: 'MSG', from: 'client', text: 'hello' }, action: { type: 'rewrite', text: (x) => x.toUpperCase() } }])
    const { chat, bobChat } = await chatting(s)
    await chat.sendText('hello', 'FN=Arial; EF=I; CO=ff; CS=0; PF=22')
    const got = await bobChat.waitFor('text', (m) => m.from === 'alice@example.com')
    assert.equal(got.text, 'HELLO')
    assert.equal(got.format, 'FN=Arial; EF=I; CO=ff; CS=0; PF=22')
    const raw = await bobChat.waitFor('message', (m) => m.contentType === 'text/plain')
    assert.equal(raw.body.toString(), 'HELLO')
    const ev = commandEvents(s.log, (e) => e.action === 'rewrite' && e.rule === 'shout')[0]!
    assert.ok(ev.forwarded !== undefined)
    const [line, ...rest] = ev.forwarded.toString('utf8').split('\r\n')
    assert.equal(Number(line!.split(' ').at(-1)), Buffer.byteLength(rest.join('\r\n')))
    await chat.sendText('and now something else')
    await bobChat.waitFor('text', (m) => m.text === 'and now something else')
  })
}

for (const path of ['tcp', 'gateway'] as const) {
  test(`an inject rule delivers a message to a client, and commands to the server with valid TrIDs (${path})`, async (t) => {
    const s = await setup(t, path, [
      { name: 'notice', match: { verb: 'JOI', from: 'server' }, action: { type: 'inject', to: 'client', commands: { message: 'this conversation is recorded', from: 'admin@example.com', name: 'Admin' } } },
      { name: 'echo', match: { verb: 'MSG', from: 'client', text: 'ping' }, action: { type: 'inject', to: 'server', commands: { verb: 'MSG', args: ['A'], payload: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\npong' } } },
    ])
    const alice = s.client('alice@example.com')
    const bob = s.client('bob@example.net')
    await alice.login(); await bob.login(); await alice.setPresence(); await bob.setPresence()
    const chat = await alice.openChat('bob@example.net')
    const notice = await chat.waitFor('text', (m) => m.from === 'admin@example.com')
    assert.equal(notice.text, 'this conversation is recorded')
    assert.equal(notice.name, 'Admin')
    const bobChat = await bob.waitFor('chat')
    await chat.sendText('ping')
    await bobChat.waitFor('text', (m) => m.text === 'ping')
    await bobChat.waitFor('text', (m) => m.text === 'pong')
    // the switchboard acknowledged the injected MSG; that ACK stopped at msnscope
    const own = await s.log.waitFor((e) => e.kind === 'command' && e.rule === 'msnscope:own-reply')
    assert.equal(own.kind === 'command' && own.command.verb, 'ACK')
    await chat.sendText('still flowing')
    await bobChat.waitFor('text', (m) => m.text === 'still flowing')
  })

  test(`an invitation blocked on its way to the invitee is declined on the invitee's behalf (${path})`, async (t) => {
    const s = await setup(t, path, [{ name: 'no incoming files', match: { fileTransfer: true, from: 'server' }, action: 'block' }])
    const { chat, bobChat } = await chatting(s)
    const cookie = await chat.sendFileInvite('report.pdf', 100)
    const reply = await chat.inviteReply(cookie)
    assert.equal(reply.command, 'CANCEL')
    assert.equal(reply.from, 'bob@example.net')
    await chat.sendText('ok')
    await bobChat.waitFor('text', (m) => m.text === 'ok')
    assert.equal(bobChat.seen('invite').length, 0)
    // through the gateway the decline went up in a request of msnscope's own
    if (path === 'gateway') await s.log.waitFor((e) => e.kind === 'http' && e.note === 'sent by msnscope')
  })
}

for (const path of ['tcp', 'gateway'] as const) {
  test(`a rule that throws becomes a rule-error and the traffic flows (${path})`, async (t) => {
    const s = await setup(t, path, [{ name: 'broken', match: (c) => { if (c.verb === 'MSG') throw new Error('boom'); return false }, action: 'block' }])
    const { chat, bobChat } = await chatting(s)
    await chat.sendText('through anyway')
    await bobChat.waitFor('text', (m) => m.text === 'through anyway')
    const err = await s.log.waitFor((e) => e.kind === 'rule-error')
    assert.equal(err.kind === 'rule-error' && err.rule, 'broken')
    assert.equal(err.kind === 'rule-error' && err.error, 'boom')
  })
}

test('reject with close: the caller gets the error, then the switchboard connection ends', async (t) => {
  const s = await setup(t, 'tcp', [{ name: 'no calls', match: { verb: 'CAL' }, action: { type: 'reject', code: 217, close: true } }])
  const alice = s.client('alice@example.com')
  const bob = s.client('bob@example.net')
  await alice.login(); await bob.login(); await alice.setPresence(); await bob.setPresence()
  await assert.rejects(alice.openChat('bob@example.net'), (err: unknown) => err instanceof LabReplyError && err.code === 217)
  const close = await s.log.waitFor((e) => e.kind === 'session-close' && e.role === 'SB')
  assert.equal(close.kind === 'session-close' && close.reason, 'closed by rule no calls')
  await alice.setPresence('BSY')
})

/** A directory for rule scripts, inside an ES-module package. */
async function scriptDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msnscope-rules-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
  return dir
}

const script = (to: string): string => `import type { Rule } from 'msnscope'
export default [
  { name: 'translate', match: { verb: 'MSG', from: 'client', text: 'hello' }, action: { type: 'rewrite', text: (t: string) => t.replace('hello', '${to}') } },
] satisfies Rule[]
`

/** Replace a file the way editors do: write a new one, rename it over the old. */
async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text)
  await rename(`${path}.tmp`, path)
}

for (const path of ['tcp', 'gateway'] as const) {
  test(`hot reload changes behaviour without dropping connections; a broken script leaves the last good rules active (${path})`, async (t) => {
    const s = await setup(t, path)
    const dir = await scriptDir(t)
    const file = join(dir, 'rules.ts')
    await writeFile(file, script('HELLO'))
    const files = new RuleFiles(s.engine, { emit: (ev) => s.log.sink({ ...ev, seq: 0, ts: '' }) })
    t.after(() => files.close())
    await files.add(file)
    const { chat, bobChat } = await chatting(s)
    const opened = s.lab.peers.length
    const closedBefore = s.lab.peers.filter((p) => p.closedAt !== undefined).length
    await chat.sendText('hello bob')
    await bobChat.waitFor('text', (m) => m.text === 'HELLO bob')

    const reloaded = once(files, 'reload')
    await replaceFile(file, script('bonjour'))
    await reloaded
    await chat.sendText('hello again')
    await bobChat.waitFor('text', (m) => m.text === 'bonjour again')

    const failed = once(files, 'reload-failed')
    await replaceFile(file, 'export default [ { name: "oops", match: ')
    const [failure] = await failed as [{ file: string; error: string }]
    assert.match(failure.error, /rules\.ts: cannot load: .*the previous rules of .* stay active/)
    await s.log.waitFor((e) => e.kind === 'rule-error' && e.rule === file)
    await chat.sendText('hello once more')
    await bobChat.waitFor('text', (m) => m.text === 'bonjour once more')

    assert.equal(s.lab.peers.length, opened, 'no new connections')
    assert.equal(s.lab.peers.filter((p) => p.closedAt !== undefined).length, closedBefore, 'no connection dropped')
    assert.equal(chat.closed, false)
  })
}

test('gateway: a reject with an HTTP status answers the request with it, and nothing reaches the server', async (t) => {
  const s = await setup(t, 'gateway', [{ name: 'no gateway logins', match: { verb: 'VER' }, action: { type: 'reject', status: 403 } }])
  const alice = s.client('alice@example.com')
  await assert.rejects(alice.login())
  const refused = await s.log.waitFor((e) => e.kind === 'http' && e.status === 403)
  assert.match(refused.kind === 'http' ? refused.note ?? '' : '', /rejected/)
  const closed = await s.log.waitFor((e) => e.kind === 'session-close' && e.conn === refused.conn)
  assert.match(closed.kind === 'session-close' ? closed.reason : '', /HTTP 403/)
  const ver = commandEvents(s.log, (e) => e.command.verb === 'VER')
  assert.ok(ver.length > 0 && ver.every((e) => e.action === 'reject' && e.rule === 'no gateway logins'))
  assert.equal(s.received.bytes, 0, 'no byte of the session reached the lab server')
})
