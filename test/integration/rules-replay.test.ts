/**
 * The replay rule action on live traffic: lab clients and the lab server with msnscope between
 * them, over TCP and through the HTTP gateway. Copies reach the other client, the server's
 * acknowledgements of the copies stop at msnscope, and the chat goes on.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { ScopeEvent } from '../../src/events.js'
import { LabClient } from '../../src/lab/client.js'
import { startLabServer } from '../../src/lab/server.js'
import { RuleEngine } from '../../src/rules/engine.js'
import { loadRuleFile, loadRules, systemClock } from '../../src/rules/load.js'
import type { LoadedRule } from '../../src/rules/rule.js'
import { EventHub } from '../../src/transport/hub.js'
import { SessionTracker } from '../../src/session/tracker.js'
import { EventLog, msnscopeInFront } from '../helpers/lab.js'

const LAB_HOST = '127.0.0.3'
const example = (name: string): string => new URL(`../../docs/examples/rules/${name}`, import.meta.url).pathname

type Path = 'tcp' | 'gateway'
type CommandScope = Extract<ScopeEvent, { kind: 'command' }>

/** The lab server with msnscope in front (TCP proxy or HTTP gateway) deciding with `rules`; alice and bob chatting. */
async function chatting(t: TestContext, path: Path, rules: LoadedRule[]) {
  const lab = await startLabServer({ host: LAB_HOST })
  t.after(() => lab.close())
  const engine = new RuleEngine({ clock: systemClock })
  engine.setRules('test rules', rules)
  const hub = new EventHub()
  const log = new EventLog()
  hub.addSink(log.sink)
  hub.addSink(engine.observe)
  const tracker = new SessionTracker()
  const connect = await msnscopeInFront(t, lab, path, { hub, tracker, decider: engine.decide, labHost: LAB_HOST })
  const alice = new LabClient({ account: 'alice@example.com', dialect: 12, ...connect })
  const bob = new LabClient({ account: 'bob@example.net', dialect: 12, ...connect })
  t.after(() => { alice.close(); bob.close() })
  await alice.login()
  await bob.login()
  await alice.setPresence()
  await bob.setPresence()
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  await bobChat.waitFor('joined', (j) => j.account === 'alice@example.com')
  /** what bob has received from alice, once `marker` (sent after everything else) has arrived */
  const bobGot = async (marker: string): Promise<string[]> => {
    await chat.sendText(marker)
    await bobChat.waitFor('text', (m) => m.text === marker)
    return bobChat.seen('text').filter((m) => m.from === 'alice@example.com' && m.text !== marker).map((m) => m.text)
  }
  const commands = (pred: (e: CommandScope) => boolean): CommandScope[] => log.commands().filter(pred)
  return { engine, log, alice, bob, chat, bobChat, bobGot, commands }
}

for (const path of ['tcp', 'gateway'] as const) {
  test(`a rule replaying alice's message twice to the server: bob receives it three times (${path})`, async (t) => {
    const rules = await loadRules([
      { name: 'say it thrice', match: { verb: 'MSG', from: 'client', text: 'knock' }, action: { type: 'replay', times: 2, to: 'server' } },
    ], 'test rules')
    const s = await chatting(t, path, rules)
    await s.chat.sendText('knock knock')
    assert.deepEqual(await s.bobGot('who is there?'), ['knock knock', 'knock knock', 'knock knock'])
    // alice sent one MSG; the event says replay and names the rule
    const sent = s.commands((e) => e.role === 'SB' && e.command.from === 'client' && e.command.verb === 'MSG' && e.account === 'alice@example.com' && e.action === 'replay')
    assert.equal(sent.length, 1)
    assert.equal(sent[0]!.rule, 'say it thrice')
    // the switchboard acknowledged the copies with TrIDs above alice's own; those ACKs stopped at msnscope
    const own = s.commands((e) => e.rule === 'msnscope:own-reply' && e.command.verb === 'ACK')
    assert.equal(own.length, 2)
    assert.ok(own.every((e) => e.command.trId! > sent[0]!.command.trId!))
    assert.equal(s.engine.counters()['rule:say it thrice'], 1)
  })

  test(`replay.ts: an urgent message arrives three times, and "!away" is answered from greeting.jsonl (${path})`, async (t) => {
    const s = await chatting(t, path, await loadRuleFile(example('replay.ts')))
    const bobChat = s.bobChat
    await s.chat.sendText('urgent: the build is broken')
    await bobChat.waitFor('text', () => bobChat.seen('text').filter((m) => m.text.startsWith('urgent')).length === 3)
    await bobChat.sendText('!away')
    await bobChat.waitFor('text', (m) => m.text === 'This is a recorded message: I will read yours when I am back.')
    assert.deepEqual(await s.bobGot('back now'), [
      'urgent: the build is broken', 'urgent: the build is broken', 'urgent: the build is broken',
      'Hello! I am away from my desk until 3pm.', 'This is a recorded message: I will read yours when I am back.',
    ])
    // alice saw "!away" herself, once, and her client never saw the ACKs of the recorded messages
    await s.chat.waitFor('text', (m) => m.text === '!away')
    assert.equal(s.chat.seen('text').filter((m) => m.text === '!away').length, 1)
    const away = s.commands((e) => e.rule === 'away message')
    assert.deepEqual(away.map((e) => [e.command.from, e.action]), [['server', 'replay']])
  })

  test(`a policy file's replay entry: every message bob receives arrives three times (${path})`, async (t) => {
    const s = await chatting(t, path, await loadRuleFile(example('duplicates.yaml')))
    await s.chat.sendText('hi bob')
    assert.deepEqual(await s.bobGot('still there?'), ['hi bob', 'hi bob', 'hi bob'])
    const replayed = s.commands((e) => e.rule === 'policy: duplicate messages')
    assert.ok(replayed.length >= 2 && replayed.every((e) => e.action === 'replay' && e.command.from === 'server'))
  })
}
