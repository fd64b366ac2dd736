/**
 * Replay as a rule action through the live proxy: a rule script's inject action with
 * replayInjectCommands, and a decider returning replayDecision. The copies reach the other
 * client and carry fresh TrIDs.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ScopeEvent } from '../../src/events.js'
import { LabClient } from '../../src/lab/client.js'
import { RuleEngine } from '../../src/rules/engine.js'
import { systemClock } from '../../src/rules/load.js'
import { validateRules } from '../../src/rules/validate.js'
import { FORWARD, type Decider } from '../../src/rules/decision.js'
import type { Rule } from '../../src/rules/rule.js'
import { EventHub } from '../../src/transport/hub.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { replayDecision, replayInjectCommands } from '../../src/replay/inject.js'
import { HOST, lab, type T } from '../helpers/replay-recording.js'

async function chat(t: T, decider: Decider, hub: EventHub): Promise<{ send: (text: string) => Promise<void>; texts: () => string[]; waitTexts: (n: number) => Promise<string[]> }> {
  const server = await lab(t)
  const proxy = new TcpProxy({ listen: { host: HOST, port: 0 }, upstream: { host: HOST, port: server.ds.port }, hub, decider })
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const opts = { dialect: 12, host: addr.host, port: addr.port }
  const alice = new LabClient({ ...opts, account: 'alice@example.com' })
  const bob = new LabClient({ ...opts, account: 'bob@example.net' })
  t.after(() => { alice.close(); bob.close() })
  for (const c of [alice, bob]) { await c.login(); await c.setPresence() }
  const aliceChat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  const texts = (): string[] => bobChat.seen('text').map((m) => m.text)
  return {
    send: (text) => aliceChat.sendText(text),
    texts,
    waitTexts: async (n) => { await bobChat.waitFor('text', () => texts().length >= n); return texts() },
  }
}

test('a rule script replays a message twice with the inject action and replayInjectCommands', async (t) => {
  const rules: Rule[] = [{
    name: 'say ping three times', match: { verb: 'MSG', from: 'client', text: 'ping' },
    action: { type: 'inject', to: 'server', commands: (c) => replayInjectCommands(c.event.command, 2) },
  }]
  const engine = new RuleEngine({ clock: systemClock })
  engine.setRules('test', validateRules(rules, 'test'))
  const hub = new EventHub()
  hub.addSink(engine.observe)
  const events: ScopeEvent[] = []
  hub.addSink((e) => { events.push(e) })
  const c = await chat(t, engine.decide, hub)
  await c.send('ping')
  assert.deepEqual(await c.waitTexts(3), ['ping', 'ping', 'ping'])
  const trIds = events.flatMap((e) => e.kind === 'command' && e.role === 'SB' && e.command.verb === 'MSG' && e.command.from === 'client' ? [e.command.trId] : [])
  assert.equal(trIds.length, 1, 'the client sent one MSG')
})

test('a decider returning replayDecision: the command goes on, the copies follow, the event says replay', async (t) => {
  const hub = new EventHub()
  const events: ScopeEvent[] = []
  hub.addSink((e) => { events.push(e) })
  const decider: Decider = (ev, ctx) => ev.command.verb === 'MSG' && ev.command.from === 'client' && ev.role === 'SB'
    ? replayDecision(ev.command, 1, ctx, { rule: 'echo' })
    : FORWARD
  const c = await chat(t, decider, hub)
  await c.send('twice')
  assert.deepEqual(await c.waitTexts(2), ['twice', 'twice'])
  const replayed = events.find((e) => e.kind === 'command' && e.action === 'replay')
  assert.equal(replayed?.kind === 'command' && replayed.rule, 'echo')
  // the server acknowledged both: the client's TrID and a fresh one above it
  const acks = events.flatMap((e) => e.kind === 'command' && e.role === 'SB' && e.command.verb === 'ACK' ? [e.command.trId ?? 0] : [])
  assert.equal(acks.length, 2)
  assert.ok(acks[1]! > acks[0]!)
})
