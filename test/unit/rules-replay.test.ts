/**
 * The replay action: checked when rules load (the recording read then, once), described in one
 * sentence, and decided as the matched command forwarded plus copies with fresh TrIDs.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { CommandScopeEvent, RuleErrorEvent } from '../../src/events.js'
import { MsnscopeError } from '../../src/errors.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent } from '../../src/protocol/events.js'
import type { Decision, DecisionContext } from '../../src/rules/decision.js'
import { describeRule } from '../../src/rules/describe.js'
import { RuleEngine, type Clock } from '../../src/rules/engine.js'
import { loadRuleFile, loadRules } from '../../src/rules/load.js'
import { policyRules } from '../../src/rules/policy.js'
import type { Rule } from '../../src/rules/rule.js'
import { validateRules } from '../../src/rules/validate.js'
import { mimeText, msg, one, serverMsg, type Step } from '../helpers/scope-events.js'

const EXAMPLES = new URL('../../docs/examples/rules/', import.meta.url)
const example = (name: string): string => new URL(name, EXAMPLES).pathname

const clock: Clock = { now: () => 0, after: () => () => {} }

/** A connection's TrIDs toward the server: the client has used up to `last`. */
function trIds(last: number): DecisionContext {
  let n = last
  return { nextClientTrId: () => ++n }
}

const ev = (s: Partial<Step> & Pick<Step, 'from' | 'wire'>): CommandScopeEvent =>
  one({ conn: 'c1', role: 'SB', account: 'alice@example.com', dialect: 12, ...s }) as CommandScopeEvent

function engineWith(rules: readonly Rule[]): RuleEngine {
  const e = new RuleEngine({ clock })
  e.setRules('rules.ts', validateRules(rules, 'rules.ts'))
  return e
}

const decided = async (e: RuleEngine, event: CommandScopeEvent, ctx: DecisionContext): Promise<Decision> => await e.decide(event, ctx)

/** Each injected entry decoded, with its direction. */
function injected(d: Decision): { to: string; command: CommandEvent }[] {
  return (d.inject ?? []).map(({ to, bytes }) => {
    const events = new MsnpDecoder(to === 'server' ? 'client' : 'server').push(bytes)
    assert.equal(events.length, 1, 'one command per entry')
    const c = events[0]!
    assert.equal(c.kind, 'command')
    return { to, command: c as CommandEvent }
  })
}

async function loadError(p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) {
    assert.ok(err instanceof MsnscopeError, String(err))
    assert.equal(err.code, 'ERULE')
    return err.message
  }
  return assert.fail('expected a load error')
}

function validationError(rules: unknown): string {
  try { validateRules(rules, 'rules.ts') } catch (err) {
    assert.ok(err instanceof MsnscopeError)
    return err.message
  }
  return assert.fail('expected a validation error')
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msnscope-replay-rule-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('a replay action with a mistake is refused naming the file, the rule and the problem', () => {
  const rule = (action: unknown): unknown[] => [{ name: 'ok', match: {}, action: 'pass' }, { name: 'again', match: { verb: 'MSG' }, action }]
  const cases: [unknown, string][] = [
    [{ type: 'replay', times: 0 }, 'rules.ts: rule "again" (#2): action.times must be a whole number from 1 to 100, not 0'],
    [{ type: 'replay', times: 101 }, 'rules.ts: rule "again" (#2): action.times must be a whole number from 1 to 100, not 101'],
    [{ type: 'replay', times: 1.5 }, 'rules.ts: rule "again" (#2): action.times must be a whole number from 1 to 100, not 1.5'],
    [{ type: 'replay', times: '2' }, 'rules.ts: rule "again" (#2): action.times must be a whole number from 1 to 100, not "2"'],
    [{ type: 'replay', to: 'bob' }, 'rules.ts: rule "again" (#2): action.to must be "client" or "server", not "bob"'],
    [{ type: 'replay', file: '' }, 'rules.ts: rule "again" (#2): action.file must be the path of a recording (pcap, pcapng or saved JSONL)'],
    [{ type: 'replay', file: 3 }, 'rules.ts: rule "again" (#2): action.file must be the path of a recording (pcap, pcapng or saved JSONL)'],
    [{ type: 'replay', conn: 'c1' }, 'rules.ts: rule "again" (#2): action.conn picks a connection of a recording: give file too'],
    [{ type: 'replay', file: 'x.pcap', conn: 'c 1' }, 'rules.ts: rule "again" (#2): action.conn must be a connection id of the recording (c1, c2 …)'],
    [{ type: 'replay', count: 2 }, 'rules.ts: rule "again" (#2): action.count is not allowed for replay (allowed: times, to, file, conn)'],
    [{ type: 'replay-all' }, 'rules.ts: rule "again" (#2): action.type must be one of pass, block, reject, close, tag, log, rewrite, inject, replay, not "replay-all"'],
  ]
  for (const [action, expected] of cases) assert.equal(validationError(rule(action)), expected)
})

test('the recording is read when the rules load: a missing or unreadable file, or no client commands, refuses them', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'notes.txt'), 'not a recording at all\n')
  const rules = (action: object): Rule[] => [{ name: 'from tape', match: { verb: 'MSG' }, action: { type: 'replay', ...action } }]
  assert.match(await loadError(loadRules(rules({ file: 'missing.pcap' }), 'mine.ts', { dir })),
    /^mine\.ts: rule "from tape" \(#1\): action\.file missing\.pcap: cannot read .*missing\.pcap: ENOENT$/)
  assert.match(await loadError(loadRules(rules({ file: 'notes.txt' }), 'mine.ts', { dir })),
    /^mine\.ts: rule "from tape" \(#1\): action\.file notes\.txt: .*notes\.txt is not a pcap, pcapng or msnscope JSONL file/)
  assert.equal(await loadError(loadRules(rules({ file: example('greeting.jsonl'), conn: 'c9' }), 'mine.ts')),
    `mine.ts: rule "from tape" (#1): action.file ${example('greeting.jsonl')}: connection c9 of the recording has no client commands`)
  const fine = await loadRules(rules({ file: example('greeting.jsonl'), times: 100 }), 'mine.ts')
  assert.equal(fine[0]!.sequence!.length, 3, '3 commands 100 times is within the bound')
})

test('more than 1000 commands for one match is refused', async (t) => {
  const dir = await tempDir(t)
  const lines = Array.from({ length: 11 }, (_, i) => JSON.stringify({ kind: 'command', conn: 'c1', ts: '2024-05-01T12:00:00Z', role: 'NS', from: 'client', raw: Buffer.from(`PNG\r\n`).toString('base64'), i }))
  await writeFile(join(dir, 'pings.jsonl'), lines.join('\n') + '\n')
  const rules: Rule[] = [{ name: 'flood', match: { verb: 'CHG' }, action: { type: 'replay', file: 'pings.jsonl', times: 100 } }]
  assert.equal(await loadError(loadRules(rules, 'flood.ts', { dir })), 'flood.ts: rule "flood" (#1): action.file pings.jsonl: 11 recorded commands 100 times is more than 1000 commands for one match')
  const fewer = await loadRules([{ ...rules[0]!, action: { type: 'replay', file: 'pings.jsonl', times: 90 } }], 'flood.ts', { dir })
  assert.equal(fewer[0]!.sequence!.length, 11)
})

test('a rule file naming a missing recording is a load error naming that file', async (t) => {
  const dir = await tempDir(t)
  const script = join(dir, 'tape.ts')
  await writeFile(script, "export default [{ name: 'tape', match: { verb: 'MSG' }, action: { type: 'replay', file: 'gone.jsonl' } }]\n")
  assert.match(await loadError(loadRuleFile(script)), new RegExp(`^${script.replace(/[.]/g, '\\.')}: rule "tape" \\(#1\\): action\\.file gone\\.jsonl: cannot read .*ENOENT`))
  const policy = join(dir, 'tape.yaml')
  await writeFile(policy, 'replay:\n  - { verb: MSG, file: gone.jsonl }\n')
  assert.match(await loadError(loadRuleFile(policy)), /tape\.yaml: rule "policy: replay" \(#1\): action\.file gone\.jsonl: cannot read .*ENOENT/)
})

test('an engine refuses a replay of a recording that was validated but never read', () => {
  const rules = validateRules([{ name: 'tape', match: { verb: 'MSG' }, action: { type: 'replay', file: 'greeting.jsonl' } }], 'lib')
  const e = new RuleEngine({ clock })
  assert.throws(() => e.setRules('lib', rules), { message: 'lib: rule "tape" (#1): action.file greeting.jsonl was not read: load these rules with loadRuleFile() or loadRules()' })
  assert.deepEqual(e.rules, [])
})

test('describeRule says what is replayed, how often and where', () => {
  const d = (action: Rule['action'], times?: number): string => describeRule({ name: 'r', match: { verb: 'MSG', from: 'client' }, action, ...(times !== undefined ? { times } : {}) })
  assert.equal(d({ type: 'replay' }), 'Forwards MSG from the client and replays it once.')
  assert.equal(d({ type: 'replay', times: 2, to: 'server' }), 'Forwards MSG from the client and replays it twice to the server.')
  assert.equal(d({ type: 'replay', times: 5, to: 'client' }, 3), 'Forwards MSG from the client and replays it 5 times to the client (at most 3 times).')
  assert.equal(d({ type: 'replay', file: 'tape.pcap', conn: 'c4', to: 'server' }),
    'Forwards MSG from the client, then sends the client commands recorded in tape.pcap (connection c4) once to the server.')
})

test('replaying a client message twice: forwarded, two copies to the server with fresh TrIDs above the client\'s', async () => {
  const e = engineWith([{ name: 'twice more', match: { verb: 'MSG', from: 'client', text: 'ping' }, action: { type: 'replay', times: 2 } }])
  const wire = msg(7, 'A', mimeText('ping'))
  const d = await decided(e, ev({ from: 'client', wire }), trIds(7))
  assert.equal(d.verdict, 'forward')
  assert.equal(d.action, 'replay')
  assert.equal(d.rule, 'twice more')
  const copies = injected(d)
  assert.deepEqual(copies.map((c) => [c.to, c.command.verb, c.command.trId]), [['server', 'MSG', 8], ['server', 'MSG', 9]])
  for (const c of copies) {
    assert.deepEqual(c.command.args, ['A'])
    assert.equal(c.command.payloadRaw!.toString(), mimeText('ping'))
  }
  // the copies are byte for byte the original but for the TrID
  assert.equal(d.inject![0]!.bytes.toString(), wire.replace('MSG 7 ', 'MSG 8 '))
  // the switchboard's ACKs of the copies stop at msnscope; the client's own ACK goes through
  const ack = (trId: number): Promise<Decision> => decided(e, ev({ from: 'server', wire: `ACK ${trId}\r\n` }), trIds(0))
  assert.equal((await ack(8)).rule, 'msnscope:own-reply')
  assert.equal((await ack(9)).verdict, 'drop')
  assert.equal((await ack(7)).verdict, 'forward')
  // other messages are not replayed
  assert.equal((await decided(e, ev({ from: 'client', wire: msg(10, 'A', mimeText('pong')) }), trIds(10))).inject, undefined)
})

test('a server message is replayed to the client by default, without a TrID; to: server sends it up', async () => {
  const e = engineWith([
    { name: 'echo up', match: { verb: 'MSG', from: 'server', text: 'up' }, action: { type: 'replay', to: 'server' } },
    { name: 'echo', match: { verb: 'MSG', from: 'server' }, action: { type: 'replay', times: 3 } },
  ])
  const wire = serverMsg('bob@example.net', 'Bob', mimeText('hi'))
  const d = await decided(e, ev({ from: 'server', wire }), trIds(4))
  assert.equal(d.rule, 'echo')
  assert.deepEqual(d.inject!.map((i) => [i.to, i.bytes.equals(wire)]), [['client', true], ['client', true], ['client', true]])
  const up = injected(await decided(e, ev({ from: 'server', wire: serverMsg('bob@example.net', 'Bob', mimeText('up')) }), trIds(4)))
  assert.deepEqual(up.map((c) => [c.to, c.command.verb, c.command.trId, c.command.args]), [['server', 'MSG', null, ['bob@example.net', 'Bob']]])
})

test('a file sequence: the recording\'s client commands, times over, with fresh TrIDs', async () => {
  const rules = await loadRules([
    { name: 'greeting', match: { verb: 'MSG', from: 'client', text: '!greeting' }, action: { type: 'replay', file: 'greeting.jsonl', times: 2 } },
  ], 'greeting rules', { dir: new URL('.', EXAMPLES).pathname })
  assert.deepEqual(rules[0]!.sequence!.map((c) => [c.verb, c.trId]), [['MSG', 4], ['MSG', 5], ['MSG', 6]])
  const e = new RuleEngine({ clock })
  e.setRules('greeting rules', rules)
  const d = await decided(e, ev({ from: 'client', wire: msg(20, 'N', mimeText('!greeting')) }), trIds(20))
  assert.equal(d.verdict, 'forward')
  assert.equal(d.action, 'replay')
  assert.equal(d.rule, 'greeting')
  const sent = injected(d)
  assert.deepEqual(sent.map((c) => [c.to, c.command.verb, c.command.trId, c.command.args[0]]), [
    ['server', 'MSG', 21, 'U'], ['server', 'MSG', 22, 'A'], ['server', 'MSG', 23, 'A'],
    ['server', 'MSG', 24, 'U'], ['server', 'MSG', 25, 'A'], ['server', 'MSG', 26, 'A'],
  ])
  assert.match(sent[1]!.command.payloadRaw!.toString(), /\r\n\r\nHello! I am away from my desk until 3pm\.$/)
  assert.match(sent[2]!.command.payloadRaw!.toString(), /\r\n\r\nThis is a recorded message: I will read yours when I am back\.$/)
  // the matched command itself was not part of the copies
  assert.ok(sent.every((c) => !c.command.payloadRaw!.toString().includes('!greeting')))
})

test('a recording is read once however many rules use it', async () => {
  const action = { type: 'replay', file: 'greeting.jsonl' } as const
  const rules = await loadRules([
    { name: 'one', match: { verb: 'MSG', text: 'a' }, action },
    { name: 'two', match: { verb: 'MSG', text: 'b' }, action: { ...action, times: 3 } },
  ], 'twice', { dir: new URL('.', EXAMPLES).pathname })
  assert.equal(rules[0]!.sequence, rules[1]!.sequence)
})

test('an action function may return a replay, checked when it runs; one with a file is a rule-error', async () => {
  const e = engineWith([
    { name: 'counted', match: { verb: 'MSG', from: 'client', text: '!' }, action: (c) => ({ type: 'replay', times: (c.text ?? '').split('!').length - 1 }) },
    { name: 'taped', match: { verb: 'MSG', from: 'client', text: 'tape' }, action: () => ({ type: 'replay', file: 'greeting.jsonl' }) },
    { name: 'too many', match: { verb: 'MSG', from: 'client', text: 'flood' }, action: () => ({ type: 'replay', times: 1000 }) },
  ])
  const d = await decided(e, ev({ from: 'client', wire: msg(3, 'A', mimeText('hey!!!')) }), trIds(3))
  assert.deepEqual(injected(d).map((c) => c.command.trId), [4, 5, 6])
  const taped = await decided(e, ev({ from: 'client', wire: msg(4, 'A', mimeText('tape')) }), trIds(4))
  assert.equal(taped.verdict, 'forward')
  assert.equal(taped.inject, undefined)
  assert.match((taped.events![0] as RuleErrorEvent).error, /^action\.file greeting\.jsonl is read when the rules load/)
  const flood = await decided(e, ev({ from: 'client', wire: msg(5, 'A', mimeText('flood')) }), trIds(5))
  assert.equal((flood.events![0] as RuleErrorEvent).rule, 'too many')
  assert.match((flood.events![0] as RuleErrorEvent).error, /^action\.times must be a whole number from 1 to 100/)
})

test('the policy file: replay entries become replay rules after the entries that block', async () => {
  const rules = policyRules([
    'words: { block: [secret] }',
    'replay:',
    '  - { verb: MSG, from: client, text: ping, times: 2, to: server }',
    "  - { name: pattern, verb: MSG, text: '/^p[io]ng$/' }",
    'rules:',
    '  - { name: no typing, match: { verb: MSG, contentType: text/x-msmsgscontrol }, action: block }',
  ].join('\n'), 'p.yaml')
  assert.deepEqual(rules.map((r) => r.name), ['policy: block words', 'policy: replay #1', 'policy: pattern', 'no typing'])
  assert.deepEqual(rules[1]!.action, { type: 'replay', times: 2, to: 'server' })
  assert.deepEqual(rules[1]!.match, { verb: 'MSG', from: 'client', text: 'ping' })
  assert.ok((rules[2]!.match as { text: unknown }).text instanceof RegExp)
  const e = new RuleEngine({ clock })
  e.setRules('p.yaml', await loadRules(rules, 'p.yaml'))
  assert.equal((await decided(e, ev({ from: 'client', wire: msg(2, 'A', mimeText('ping')) }), trIds(2))).inject!.length, 2)
  assert.equal((await decided(e, ev({ from: 'client', wire: msg(3, 'A', mimeText('ping secret')) }), trIds(3))).action, 'block')
  assert.equal(policyRules('replay: { verb: MSG }', 'p.yaml')[0]!.name, 'policy: replay')
})

test('policy replay entries with a mistake name the file and the entry', () => {
  const error = (text: string): string => {
    try { policyRules(text, 'p.yaml') } catch (err) { return (err as Error).message }
    return assert.fail('expected a policy error')
  }
  assert.equal(error('replay: [{ verb: MSG, times: 0 }]'), 'p.yaml: replay[0].times must be a whole number from 1 to 100, not 0')
  assert.equal(error('replay: [{ verb: MSG }, { verb: MSG, to: up }]'), 'p.yaml: replay[1].to must be "client" or "server", not "up"')
  assert.equal(error('replay: [{ times: 2 }]'), 'p.yaml: replay[0] needs a match (verb, from, text …): replaying every command would break every session')
  assert.match(error('replay: { verb: MSG, tmes: 2 }'), /^p\.yaml: replay\.tmes is not a match key \(known: .*; for the replay itself: name, times, to, file, conn\)$/)
  assert.equal(error('replay: [{ verb: MSG, conn: c1 }]'), 'p.yaml: replay[0].conn picks a connection of a recording: give file too')
  assert.equal(error('replay: [{ name: a, verb: MSG }, { name: a, verb: CAL }]'), 'p.yaml: replay[1].name "policy: a" is used by an earlier replay entry')
  assert.equal(error('replay: []'), 'p.yaml: replay is an empty list')
  assert.equal(error('replay: [3]'), 'p.yaml: replay[0] must be a match with times, to, file or conn ({ verb: MSG, from: client, times: 2 })')
})

test('the cookbook examples replay.ts and duplicates.yaml load, explain themselves and act as docs/rules.md says', async () => {
  const script = await loadRuleFile(example('replay.ts'))
  assert.deepEqual(script.map((r) => describeRule(r.rule)), [
    'Forwards MSG from the client whose text contains "urgent" and replays it twice.',
    'Forwards MSG from the server signed in as "alice@example.com" and whose text contains "!away", then sends the client commands recorded in greeting.jsonl once to the server.',
  ])
  const e = new RuleEngine({ clock })
  e.setRules('replay.ts', script)
  const urgent = await decided(e, ev({ from: 'client', wire: msg(9, 'A', mimeText('urgent: call me')) }), trIds(9))
  assert.deepEqual(injected(urgent).map((c) => [c.to, c.command.trId]), [['server', 10], ['server', 11]])
  const away = await decided(e, ev({ from: 'server', wire: serverMsg('bob@example.net', 'Bob', mimeText('!away')) }), trIds(3))
  assert.equal(away.rule, 'away message')
  assert.deepEqual(injected(away).map((c) => [c.to, c.command.trId]), [['server', 4], ['server', 5], ['server', 6]])

  const policy = await loadRuleFile(example('duplicates.yaml'))
  assert.deepEqual(policy.map((r) => describeRule(r.rule)), ['Forwards MSG from the server of content type "text/plain" and replays it twice.'])
  const p = new RuleEngine({ clock })
  p.setRules('duplicates.yaml', policy)
  const wire = serverMsg('bob@example.net', 'Bob', mimeText('hi'))
  const dup = await decided(p, ev({ from: 'server', wire }), trIds(0))
  assert.equal(dup.rule, 'policy: duplicate messages')
  assert.deepEqual(dup.inject!.map((i) => [i.to, i.bytes.equals(wire)]), [['client', true], ['client', true]])

  const md = await readFile(new URL('../../docs/rules.md', import.meta.url), 'utf8')
  for (const file of ['replay.ts', 'duplicates.yaml']) {
    const shown = new RegExp(`\`docs/examples/rules/${file.replace('.', '\\.')}\`:\\n\\n\`\`\`[a-z]*\\n([^]*?)\`\`\`\\n`).exec(md)
    assert.equal(shown?.[1], await readFile(example(file), 'utf8'), `docs/rules.md shows ${file} as it is`)
  }
})
