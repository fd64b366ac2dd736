import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CommandScopeEvent, RuleErrorEvent } from '../../src/events.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent } from '../../src/protocol/events.js'
import { FORWARD, type Decision, type DecisionContext } from '../../src/rules/decision.js'
import { RuleEngine, type Clock } from '../../src/rules/engine.js'
import type { Rule } from '../../src/rules/rule.js'
import { validateRules } from '../../src/rules/validate.js'
import { mimeText, msg, one, p2pPayload, serverMsg, slpInvite, type Step } from '../helpers/scope-events.js'

/** A clock whose timers fire only when the test says so. */
class ManualClock implements Clock {
  timers: (() => void)[] = []
  now(): number { return Date.parse('2024-05-01T12:00:00Z') }
  after(_ms: number, fn: () => void): () => void {
    this.timers.push(fn)
    return () => { this.timers = this.timers.filter((f) => f !== fn) }
  }
  fire(): void { for (const f of this.timers.splice(0)) f() }
}

function engineWith(rules: Rule[], o: { defaultAction?: 'pass' | 'block'; clock?: Clock } = {}): RuleEngine {
  const e = new RuleEngine({ clock: o.clock ?? new ManualClock(), ...(o.defaultAction !== undefined ? { defaultAction: o.defaultAction } : {}) })
  e.setRules('test.ts', validateRules(rules, 'test.ts'))
  return e
}

class Ctx implements DecisionContext {
  next = 1000
  nextClientTrId(): number { return ++this.next }
}

const sb = (from: 'client' | 'server', wire: string | Buffer, account = 'alice@example.com'): CommandScopeEvent =>
  one({ conn: 'c2', role: 'SB', from, wire: typeof wire === 'string' ? wire : wire, account, dialect: 12 } as Step) as CommandScopeEvent

/** Decode bytes the engine produced (as the side that receives them would). */
function decode(bytes: Buffer | undefined, from: 'client' | 'server'): CommandEvent[] {
  assert.ok(bytes !== undefined, 'expected bytes')
  const d = new MsnpDecoder(from, { dialect: 12 })
  const evs = [...d.push(bytes), ...d.end()]
  for (const e of evs) assert.equal(e.kind, 'command', 'engine output must decode cleanly')
  return evs as CommandEvent[]
}

function sync(d: Decision | Promise<Decision>): Decision {
  assert.ok(!(d instanceof Promise), 'expected a synchronous decision')
  return d
}

/** Let the engine see a switchboard roster: bob joined. */
function joinBob(e: RuleEngine, ctx: DecisionContext): void {
  sync(e.decide(sb('server', 'JOI bob@example.net Bob%20B. 0\r\n'), ctx))
}

test('with no rules every command is forwarded as it came', () => {
  const e = new RuleEngine({ clock: new ManualClock() })
  assert.equal(e.decide(sb('client', msg(4, 'A', mimeText('hi'))), new Ctx()), FORWARD)
})

test('blocking a MSG that asked for an acknowledgement answers NAK; an unacknowledged one gets nothing', () => {
  const e = engineWith([{ name: 'no secrets', match: { verb: 'MSG', text: 'secret' }, action: 'block' }])
  const ctx = new Ctx()
  const a = sync(e.decide(sb('client', msg(4, 'A', mimeText('the secret plan'))), ctx))
  assert.equal(a.verdict, 'drop')
  assert.equal(a.action, 'block')
  assert.equal(a.rule, 'no secrets')
  assert.equal(a.reply?.toString(), 'NAK 4\r\n')
  const u = sync(e.decide(sb('client', msg(5, 'U', mimeText('secret'))), ctx))
  assert.equal(u.verdict, 'drop')
  assert.equal(u.reply, undefined)
  const n = sync(e.decide(sb('client', msg(6, 'A', mimeText('nothing to see'))), ctx))
  assert.equal(n, FORWARD)
  assert.equal(e.counters()['rule:no secrets'], 2)
})

const ftInvite = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n' +
  'Application-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\n' +
  'Invitation-Command: INVITE\r\nInvitation-Cookie: 4242\r\nApplication-File: holiday.exe\r\nApplication-FileSize: 1024\r\n\r\n'

test('blocking an MSNFTP invitation declines it as the invitee would and tells the others', () => {
  const e = engineWith([{ name: 'no files', match: { fileTransfer: true }, action: 'block' }])
  const ctx = new Ctx()
  joinBob(e, ctx)
  const d = sync(e.decide(sb('client', msg(7, 'S', ftInvite)), ctx))
  assert.equal(d.verdict, 'drop')
  const replies = decode(d.reply, 'server')
  assert.deepEqual(replies.map((c) => [c.verb, c.trId, c.args]), [['ACK', 7, []], ['MSG', null, ['bob@example.net', 'Bob%20B.']]])
  const decline = replies[1]!.payload as Record<string, unknown>
  assert.deepEqual((decline.invitation as Record<string, unknown>).command, 'CANCEL')
  assert.deepEqual((decline.invitation as Record<string, unknown>).cookie, '4242')
  assert.deepEqual((decline.invitation as Record<string, unknown>).cancelCode, 'REJECT')
  assert.equal(d.inject?.length, 1)
  assert.equal(d.inject![0]!.to, 'server')
  const [notice] = decode(d.inject![0]!.bytes, 'client')
  assert.equal(notice!.verb, 'MSG')
  assert.equal(notice!.trId, 1001)
  assert.deepEqual(notice!.args, ['U'])
  // the server's answer to that injected command is not the client's business
  const own = sync(e.decide(sb('server', 'NAK 1001\r\n'), ctx))
  assert.equal(own.verdict, 'drop')
  assert.equal(own.rule, 'msnscope:own-reply')
  // once the client's own TrIDs reach that number (a long session), its replies are the client's
  assert.equal(sync(e.decide(sb('client', msg(1001, 'A', mimeText('much later'))), ctx)), FORWARD)
  assert.equal(sync(e.decide(sb('server', 'ACK 1001\r\n'), ctx)), FORWARD)
})

test('blocking an invitation arriving for the client declines it on the client\'s behalf', () => {
  const e = engineWith([{ name: 'no files', match: { fileTransfer: true }, action: 'block' }])
  const ctx = new Ctx()
  const d = sync(e.decide(sb('server', serverMsg('bob@example.net', 'Bob', ftInvite)), ctx))
  assert.equal(d.verdict, 'drop')
  assert.equal(d.reply, undefined)
  const [decline] = decode(d.inject![0]!.bytes, 'client')
  assert.equal(decline!.verb, 'MSG')
  assert.equal(((decline!.payload as Record<string, unknown>).invitation as Record<string, unknown>).command, 'CANCEL')
})

test('blocking a P2P file-transfer INVITE acknowledges it and answers MSNSLP 603 Decline', () => {
  const e = engineWith([{ name: 'no exe', match: { fileName: '*.exe' }, action: 'block' }])
  const ctx = new Ctx()
  const invite = slpInvite('setup.exe')
  const payload = p2pPayload({ sessionId: 0, identifier: 500, totalSize: invite.length, flags: 0, ackIdentifier: 777 }, invite)
  const ev = sb('client', Buffer.concat([Buffer.from(`MSG 9 D ${payload.length}\r\n`), payload]))
  assert.deepEqual(ev.command.payload?.fileName, 'setup.exe')
  const d = sync(e.decide(ev, ctx))
  const replies = decode(d.reply, 'server')
  assert.deepEqual(replies.map((c) => c.verb), ['ACK', 'MSG', 'MSG'])
  const ack = replies[1]!.payload as Record<string, unknown>
  const ackHeader = ack.header as Record<string, unknown>
  assert.equal(ackHeader.flags, 2)
  assert.equal(ackHeader.ackedIdentifier, 500)
  assert.equal(ackHeader.ackedUniqueId, 777)
  assert.equal(ackHeader.ackedDataSize, invite.length)
  const slp = (replies[2]!.payload as Record<string, unknown>).slp as Record<string, unknown>
  assert.equal(slp.status, 603)
  assert.equal(slp.callId, '{B1E0C3D2-5A4F-4E6D-8C7B-9A0F1E2D3C4B}')
  assert.equal(slp.to, 'alice@example.com')
  assert.equal(slp.from, 'bob@example.net')
  assert.equal(replies[2]!.args[0], 'bob@example.net')
  assert.equal(slp.partial, undefined)
  // the client's P2P acknowledgement of our decline stops here (with the switchboard's ACK)
  const declineId = ((replies[2]!.payload as Record<string, unknown>).header as Record<string, number>).identifier!
  const back = p2pPayload({ sessionId: 0, identifier: 501, totalSize: 0, flags: 2, ackIdentifier: declineId }, Buffer.alloc(0))
  const b = sync(e.decide(sb('client', Buffer.concat([Buffer.from(`MSG 10 D ${back.length}\r\n`), back])), ctx))
  assert.equal(b.verdict, 'drop')
  assert.equal(b.reply?.toString(), 'ACK 10\r\n')
})

test('a blocked login is refused as a server refuses it', () => {
  const e = engineWith([{ name: 'nobody', match: { from: 'client' }, action: 'block' }])
  const ctx = new Ctx()
  const ns = (wire: string): CommandScopeEvent => one({ conn: 'c1', role: 'NS', from: 'client', wire }) as CommandScopeEvent
  assert.equal(sync(e.decide(ns('VER 1 MSNP12 MSNP11 CVR0\r\n'), ctx)).reply?.toString(), 'VER 1 0\r\n')
  assert.equal(sync(e.decide(ns('USR 3 TWN I alice@example.com\r\n'), ctx)).reply?.toString(), '911 3\r\n')
  assert.equal(sync(e.decide(ns('PNG\r\n'), ctx)).reply?.toString(), 'QNG\r\n')
})

test('reject answers with the error a server gives, a chosen code, or an HTTP status', () => {
  const ctx = new Ctx()
  const cal = sb('client', 'CAL 2 mallory@example.org\r\n')
  assert.equal(sync(engineWith([{ name: 'r', match: { verb: 'CAL' }, action: 'reject' }]).decide(cal, ctx)).reply?.toString(), '217 2\r\n')
  assert.equal(sync(engineWith([{ name: 'r', match: { verb: 'CAL' }, action: { type: 'reject', code: 216 } }]).decide(cal, ctx)).reply?.toString(), '216 2\r\n')
  const h = sync(engineWith([{ name: 'r', match: { verb: 'CAL' }, action: { type: 'reject', status: 403, close: true } }]).decide(cal, ctx))
  assert.deepEqual(h.http, { status: 403 })
  assert.equal(h.verdict, 'close')
  assert.equal(h.action, 'reject')
})

test('a rewrite recomputes the payload length and keeps every header byte', () => {
  const e = engineWith([{ name: 'shout', match: { verb: 'MSG', text: 'hello' }, action: { type: 'rewrite', text: (t) => t.toUpperCase() } }])
  const payload = 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n\r\nhello wörld'
  const d = sync(e.decide(sb('client', msg(4, 'N', payload)), new Ctx()))
  assert.equal(d.verdict, 'replace')
  assert.equal(d.action, 'rewrite')
  const expected = payload.replace('hello wörld', 'HELLO WÖRLD')
  assert.equal(d.bytes?.toString('utf8'), `MSG 4 N ${Buffer.byteLength(expected)}\r\n${expected}`)
})

test('a rewrite can change args, set and remove headers, and mask words', () => {
  const e = engineWith([
    { name: 'ack all', match: { verb: 'MSG', words: ['darn'] }, action: { type: 'rewrite', args: ['A'], mask: ['darn'], headers: { 'X-MMS-IM-Format': null, 'X-Policy': 'masked' } } },
  ])
  const d = sync(e.decide(sb('client', msg(4, 'N', mimeText('Darn it, darnation'))), new Ctx()))
  const [c] = decode(d.bytes, 'client')
  assert.deepEqual(c!.args, ['A'])
  const p = c!.payload as Record<string, unknown>
  assert.equal(p.text, '**** it, darnation')
  assert.deepEqual(p.headers, { 'MIME-Version': '1.0', 'Content-Type': 'text/plain; charset=UTF-8', 'X-Policy': 'masked' })
})

test('inject sends a message to the client as the contact, and commands to the server with fresh TrIDs', () => {
  const e = engineWith([{
    name: 'welcome', match: { verb: 'JOI' },
    action: { type: 'inject', to: 'client', commands: [{ message: 'this chat is recorded' }, { verb: 'MSG', args: ['U'], payload: mimeText('hi all'), to: 'server' }, 'PNG'] },
  }])
  const ctx = new Ctx()
  const d = sync(e.decide(sb('server', 'JOI bob@example.net Bob%20B. 0\r\n'), ctx))
  assert.equal(d.verdict, 'forward')
  assert.equal(d.action, 'inject')
  assert.deepEqual(d.inject!.map((i) => i.to), ['client', 'server', 'client'])
  const [m] = decode(d.inject![0]!.bytes, 'server')
  assert.deepEqual(m!.args, ['bob@example.net', 'Bob%20B.'])
  assert.equal((m!.payload as Record<string, unknown>).text, 'this chat is recorded')
  const [s] = decode(d.inject![1]!.bytes, 'client')
  assert.equal(s!.trId, 1001)
  assert.equal(d.inject![2]!.bytes.toString(), 'PNG\r\n')
})

test('a rule that throws becomes a rule-error and the next rule decides', () => {
  const e = engineWith([
    { name: 'broken', match: () => { throw new Error('oops') }, action: 'block' },
    { name: 'tagger', match: { verb: 'MSG' }, action: { type: 'tag', tags: ['seen'] } },
    { name: 'after', match: { verb: 'MSG' }, action: 'pass' },
  ])
  const d = sync(e.decide(sb('client', msg(4, 'A', mimeText('x'))), new Ctx()))
  assert.equal(d.rule, 'after')
  assert.equal(d.action, 'pass')
  assert.deepEqual(d.tags, ['seen'])
  const err = d.events?.[0] as RuleErrorEvent
  assert.equal(err.kind, 'rule-error')
  assert.equal(err.rule, 'broken')
  assert.equal(err.error, 'oops')
  assert.equal(e.counters()['rule-errors'], 1)
})

test('an asynchronous rule decides when it settles in time', async () => {
  const e = engineWith([{ name: 'later', match: async (c) => c.verb === 'MSG', action: async () => ({ type: 'rewrite', text: 'HELLO' }) }])
  const d = await e.decide(sb('client', msg(4, 'N', mimeText('hello'))), new Ctx())
  assert.equal(d.action, 'rewrite')
  assert.match(d.bytes!.toString(), /\r\n\r\nHELLO$/)
})

test('an asynchronous rule that does not settle in time is a rule-error and the default action applies', async () => {
  const clock = new ManualClock()
  const e = engineWith([{ name: 'slow', match: () => new Promise<boolean>(() => {}), action: 'block' }], { clock, defaultAction: 'pass' })
  const p = e.decide(sb('client', msg(4, 'A', mimeText('x'))), new Ctx())
  assert.ok(p instanceof Promise)
  clock.fire()
  const d = await p
  assert.equal(d.verdict, 'forward')
  assert.equal((d.events?.[0] as RuleErrorEvent).rule, 'slow')
  assert.match((d.events?.[0] as RuleErrorEvent).error, /did not settle within 50 ms/)
  const blocking = engineWith([{ name: 'slow', match: () => new Promise<boolean>(() => {}), action: 'pass' }], { clock, defaultAction: 'block' })
  const q = blocking.decide(sb('client', msg(5, 'A', mimeText('x'))), new Ctx())
  clock.fire()
  const b = await q
  assert.equal(b.verdict, 'drop')
  assert.equal(b.reply?.toString(), 'NAK 5\r\n')
  assert.equal(blocking.counters()['rule-timeouts'], 1)
})

test('times limits how often a rule applies; counters count hits per rule', () => {
  const e = engineWith([{ name: 'first only', match: { verb: 'MSG' }, action: 'block', times: 1 }])
  const ctx = new Ctx()
  assert.equal(sync(e.decide(sb('client', msg(4, 'U', mimeText('a'))), ctx)).verdict, 'drop')
  assert.equal(e.decide(sb('client', msg(5, 'U', mimeText('b'))), ctx), FORWARD)
  assert.deepEqual(e.counters(), { 'rule:first only': 1, 'rule-errors': 0, 'rule-timeouts': 0 })
  assert.equal(e.statsEvent().kind, 'stats')
})

test('rule names must be unique across sources', () => {
  const e = engineWith([{ name: 'x', match: {}, action: 'pass' }])
  assert.throws(() => e.setRules('other.ts', validateRules([{ name: 'x', match: {}, action: 'block' }], 'other.ts')), /other\.ts: rule "x" \(#1\): the name is already used by a rule in test\.ts/)
})

test('matches see the account, the contact, the content type and file names', () => {
  const seen: unknown[] = []
  const e = engineWith([{ name: 'spy', match: (c) => { seen.push([c.account, c.contact, c.contentType, c.fileNames, c.fileTransfer, c.text]); return false }, action: 'pass' }])
  const ctx = new Ctx()
  joinBob(e, ctx)
  e.decide(sb('client', msg(7, 'S', ftInvite)), ctx)
  e.decide(sb('server', serverMsg('carol@example.org', 'Carol', mimeText('yo'))), ctx)
  assert.deepEqual(seen.slice(1), [
    ['alice@example.com', 'bob@example.net', 'text/x-msmsgsinvite', ['holiday.exe'], true, null],
    ['alice@example.com', 'carol@example.org', 'text/plain', [], false, 'yo'],
  ])
})
