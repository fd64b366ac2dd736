/**
 * Bodies through the gateway interceptor, against a scripted gateway that records what reaches
 * it (and refuses overlapping requests and stale SessionIDs, as the real one does): several
 * commands per body, a command split across bodies, and every kind of decision of the Decider
 * shared with the TCP proxy.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Decider, Decision } from '../../src/rules/decision.js'
import { FORWARD } from '../../src/rules/decision.js'
import { HttpGateway } from '../../src/transport/http-gateway.js'
import { Events, gatewayAnswer, OPEN_NS, poll, post, send, startFakeGateway, type FakeRequest } from './gateway-helpers.js'

/** A gateway with one session whose answers come from `answerFor(body)`; strict about SessionIDs. */
async function scripted(t: import('node:test').TestContext, answerFor: (body: string) => string, decider?: Decider) {
  let minor = 100
  const fake = await startFakeGateway('127.0.0.3', (req: FakeRequest, res) => {
    const sid = /SessionID=([\d.]+)/.exec(req.path)?.[1]
    if (req.overlapped || (!req.path.includes('Action=open') && sid !== `4242.${minor}`)) {
      res.writeHead(400, { 'Content-Length': 0 })
      res.end()
      return
    }
    minor += 7
    gatewayAnswer(res, `4242.${minor}`, answerFor(req.body.toString('latin1')))
  })
  t.after(() => fake.close())
  const events = new Events()
  const scope = new HttpGateway({ listen: { host: '127.0.0.1', port: 0 }, upstream: fake.address, ...(decider !== undefined ? { decider } : {}) })
  scope.addSink(events.sink)
  const addr = await scope.start()
  t.after(() => scope.close())
  return { fake, scope, addr, events }
}

test('several commands in one body, and a command split across bodies, are decoded once each and arrive whole', async (t) => {
  const answers: Record<string, string> = {
    VER: 'VER 1 MSNP12\r\nCVR 2 7.0.0816 7.0.0816 1.0.0863 http://a.invalid http://b.invalid\r\nUSR 3 TWN S lc=1033,',
    USR: 'id=507\r\n',
  }
  const { fake, addr, events } = await scripted(t, (body) => answers[body.slice(0, 3)] ?? '')
  const open = await post(addr, OPEN_NS, 'VER 1 MSNP12 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 msmsgs alice@example.com\r\n')
  assert.equal(open.status, 200)
  // the partial USR line waits in msnscope's decoder: the client gets the whole commands only
  assert.equal(open.text, 'VER 1 MSNP12\r\nCVR 2 7.0.0816 7.0.0816 1.0.0863 http://a.invalid http://b.invalid\r\n')
  const conn = events.of('session-open')[0]!.conn
  assert.deepEqual(events.commands(conn), ['C VER', 'C CVR', 'S VER', 'S CVR'])

  const first = await post(addr, send(open.messenger!.sessionId!), 'USR 3 TWN I ali')
  assert.equal(first.body.length, 0)
  assert.equal(fake.requests.at(-1)!.body.length, 0, 'nothing of a half command goes on')
  assert.equal(fake.requests.at(-1)!.headers['content-length'], '0')
  const second = await post(addr, send(first.messenger!.sessionId!), 'ce@example.com\r\n')
  assert.equal(fake.requests.at(-1)!.body.toString(), 'USR 3 TWN I alice@example.com\r\n')
  assert.equal(second.text, 'USR 3 TWN S lc=1033,id=507\r\n')
  const usr = events.of('command', conn).filter((e) => e.command.verb === 'USR')
  assert.deepEqual(usr.map((e) => [e.command.from, e.command.args.join(' ')]), [['client', 'TWN I alice@example.com'], ['server', 'TWN S lc=1033,id=507']])
})

test('the Decider can drop, replace, answer and inject; bodies and Content-Length follow', async (t) => {
  const decider: Decider = (ev) => {
    const c = ev.command
    if (c.from === 'client' && c.verb === 'PRP') return { verdict: 'drop', action: 'block', rule: 'no-names' }
    if (c.from === 'client' && c.verb === 'CHG') return { verdict: 'replace', bytes: Buffer.from(`CHG ${c.trId} BSY 0\r\n`), action: 'rewrite', rule: 'always-busy' }
    if (c.from === 'client' && c.verb === 'REA') return Promise.resolve<Decision>({ verdict: 'drop', reply: Buffer.from(`209 ${c.trId}\r\n`), action: 'reject', rule: 'no-rename' })
    if (c.from === 'client' && c.verb === 'URL') return { verdict: 'forward', inject: [{ to: 'client', bytes: Buffer.from('MSG Hotmail Hotmail 5\r\nhello') }], action: 'inject', rule: 'greeting' }
    if (c.from === 'server' && c.verb === 'ILN') return { verdict: 'forward', inject: [{ to: 'server', bytes: Buffer.from('BLP 1001 BL\r\n') }], action: 'inject', rule: 'block-all' }
    return FORWARD
  }
  const answers: Record<string, string> = {
    VER: 'VER 1 MSNP12\r\n',
    CHG: 'CHG 5 BSY 0\r\nILN 5 NLN bob@example.net Bob 0\r\n',
    BLP: 'BLP 1001 BL\r\n',
    URL: 'URL 8 /cgi-bin/HoTMaiL https://login.invalid/ppsecure/md5auth.srf?lc=1033 2\r\n',
  }
  const { fake, scope, addr, events } = await scripted(t, (body) => answers[body.slice(0, 3)] ?? '', decider)
  let a = await post(addr, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const conn = events.of('session-open')[0]!.conn

  // drop and replace: the gateway gets only the rewritten CHG, with a Content-Length to match
  a = await post(addr, send(a.messenger!.sessionId!), 'PRP 4 MFN Alice\r\nCHG 5 NLN 0\r\n')
  const chg = fake.requests.at(-1)!
  assert.equal(chg.body.toString(), 'CHG 5 BSY 0\r\n')
  assert.equal(chg.headers['content-length'], String(chg.body.length))
  assert.equal(a.text, 'CHG 5 BSY 0\r\nILN 5 NLN bob@example.net Bob 0\r\n')
  assert.equal(a.headers['content-length'], String(a.body.length))

  // the ILN's injection toward the server goes out in msnscope's own request, never overlapping
  await events.waitFor('http', (e) => e.conn === conn && e.note === 'sent by msnscope')
  const answered = await events.waitFor('http', (e) => e.conn === conn && e.from === 'server' && e.note?.startsWith('answer to msnscope') === true)
  assert.equal(answered.bodyLength, 'BLP 1001 BL\r\n'.length)
  assert.equal(fake.requests.at(-1)!.body.toString(), 'BLP 1001 BL\r\n')

  // msnscope answers REA itself (asynchronous decision); the client's SessionID, now stale, is
  // brought up to date; the answer to msnscope's own request comes with this answer
  a = await post(addr, send(a.messenger!.sessionId!), 'REA 6 alice@example.com Al\r\n')
  assert.equal(a.status, 200)
  assert.equal(a.text, 'BLP 1001 BL\r\n209 6\r\n')
  assert.equal(fake.requests.at(-1)!.body.length, 0)

  // an injection toward the client follows the command that caused it in the same answer
  a = await post(addr, send(a.messenger!.sessionId!), 'URL 8 INBOX\r\n')
  assert.equal(a.text, 'MSG Hotmail Hotmail 5\r\nhelloURL 8 /cgi-bin/HoTMaiL https://login.invalid/ppsecure/md5auth.srf?lc=1033 2\r\n')

  // bytes sent from outside (the dashboard): toward the client in the next answer, toward the server in msnscope's own request
  assert.ok(scope.send(conn, 'client', Buffer.from('OUT OTH\r\n')))
  a = await post(addr, poll(a.messenger!.sessionId!))
  assert.equal(a.text, 'OUT OTH\r\n')

  assert.ok(fake.requests.every((r) => !r.overlapped), 'no request overlapped another')
  assert.ok(events.of('http').every((e) => e.status === undefined || e.status === 200))
  const labelled = events.of('command', conn).map((e) => `${e.command.from === 'client' ? 'C' : 'S'} ${e.command.verb} ${e.action}${e.rule !== undefined ? ` ${e.rule}` : ''}`)
  assert.deepEqual(labelled, [
    'C VER pass', 'S VER pass',
    'C PRP block no-names', 'C CHG rewrite always-busy', 'S CHG pass', 'S ILN inject block-all',
    'S BLP pass',
    'C REA reject no-rename',
    'C URL inject greeting', 'S URL pass',
  ])
  assert.deepEqual(events.of('command', conn).find((e) => e.command.verb === 'CHG' && e.command.from === 'client')?.forwarded?.toString(), 'CHG 5 BSY 0\r\n')
})

test('a close decision ends the session: Session=close to the client, one session-close', async (t) => {
  const decider: Decider = (ev) => ev.command.verb === 'SYN' ? { verdict: 'close', action: 'close', rule: 'no-lists' } : FORWARD
  const { fake, addr, events } = await scripted(t, (body) => body.startsWith('VER') ? 'VER 1 MSNP12\r\n' : '', decider)
  const open = await post(addr, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const a = await post(addr, send(open.messenger!.sessionId!), 'SYN 2 0\r\n')
  assert.equal(a.status, 200)
  assert.equal(a.messenger?.sessionClose, true)
  assert.equal(fake.requests.at(-1)!.body.length, 0, 'SYN did not go on')
  const closes = events.of('session-close')
  assert.equal(closes.length, 1)
  assert.match(closes[0]!.reason, /^closed by rule no-lists/)
  assert.equal((await post(addr, poll(a.messenger!.sessionId!))).status, 400, 'the session is gone')
})

test('bytes for the server wait while a request of the session is outstanding, then go in a request of msnscope\'s own', async (t) => {
  let minor = 1
  let hold: { arrived: () => void; gate: Promise<void> } | null = null
  const fake = await startFakeGateway('127.0.0.3', async (req, res) => {
    const body = req.body.toString('latin1')
    if (req.overlapped) { res.writeHead(400, { 'Content-Length': 0 }); res.end(); return }
    if (body === '' && hold !== null) {
      const h = hold
      hold = null
      h.arrived()
      await h.gate
    }
    gatewayAnswer(res, `77.${++minor}`, body.startsWith('VER') ? 'VER 1 MSNP12\r\n' : body.startsWith('BLP') ? 'BLP 1001 AL\r\n' : '')
  })
  t.after(() => fake.close())
  const events = new Events()
  const scope = new HttpGateway({ listen: { host: '127.0.0.1', port: 0 }, upstream: fake.address })
  scope.addSink(events.sink)
  const addr = await scope.start()
  t.after(() => scope.close())
  const open = await post(addr, OPEN_NS, 'VER 1 MSNP12 CVR0\r\n')
  const conn = events.of('session-open')[0]!.conn
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const arrived = new Promise<void>((resolve) => { hold = { arrived: resolve, gate } })
  const polled = post(addr, poll(open.messenger!.sessionId!))
  await arrived
  // the poll is outstanding at the gateway: msnscope's bytes must wait
  assert.ok(scope.send(conn, 'server', Buffer.from('BLP 1001 AL\r\n')))
  const before = fake.requests.length
  release()
  const answer = await polled
  assert.equal(answer.status, 200)
  await events.waitFor('http', (e) => e.conn === conn && e.note?.startsWith('answer to msnscope') === true)
  assert.equal(fake.requests.length, before + 1)
  assert.equal(fake.requests.at(-1)!.body.toString(), 'BLP 1001 AL\r\n')
  assert.ok(fake.requests.every((r) => !r.overlapped), 'no request overlapped another')
  const next = await post(addr, poll(answer.messenger!.sessionId!))
  assert.equal(next.text, 'BLP 1001 AL\r\n', 'the answer to msnscope\'s request comes with the client\'s next one')
})
