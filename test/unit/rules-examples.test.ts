/** The cookbook's examples (docs/examples/rules) load as they are and do what docs/rules.md says. */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import type { CommandScopeEvent, RuleErrorEvent } from '../../src/events.js'
import { FORWARD, type Decision, type DecisionContext } from '../../src/rules/decision.js'
import { describeRule } from '../../src/rules/describe.js'
import { RuleEngine, type Clock } from '../../src/rules/engine.js'
import { installPresets, loadRuleFile } from '../../src/rules/load.js'
import { mimeText, msg, one, serverMsg, type Step } from '../helpers/scope-events.js'

const DIR = new URL('../../docs/examples/rules/', import.meta.url)
const path = (name: string): string => new URL(name, DIR).pathname

const clock: Clock = { now: () => 0, after: () => () => {} }
const ctx: DecisionContext = { nextClientTrId: (() => { let n = 100; return () => ++n })() }

async function engineFor(file: string): Promise<RuleEngine> {
  const e = new RuleEngine({ clock })
  e.setRules(file, await loadRuleFile(path(file)))
  return e
}

const ev = (s: Partial<Step> & Pick<Step, 'from' | 'wire'>): CommandScopeEvent =>
  one({ conn: 'c1', role: 'SB', account: 'alice@example.com', dialect: 12, ...s }) as CommandScopeEvent

const decided = async (e: RuleEngine, event: CommandScopeEvent): Promise<Decision> => await e.decide(event, ctx)

const invite = (file: string): string => 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n' +
  `Application-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 77\r\nApplication-File: ${file}\r\nApplication-FileSize: 10\r\n\r\n`

test('every example loads, and every rule explains itself in one sentence', async () => {
  for (const file of ['hide-typing.ts', 'shout.ts', 'no-executables.ts', 'welcome.js', 'who-may-talk.ts', 'audit.ts', 'directory-lookup.ts', 'policy.yaml', 'block-all.yaml']) {
    const rules = await loadRuleFile(path(file))
    assert.ok(rules.length > 0, file)
    for (const r of rules) assert.match(describeRule(r.rule), /^[A-Z].*\.$/, `${file}: ${r.rule.name}`)
  }
})

test('hide-typing.ts drops typing notifications and nothing else', async () => {
  const e = await engineFor('hide-typing.ts')
  const typing = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n'
  const d = await decided(e, ev({ from: 'client', wire: msg(3, 'U', typing) }))
  assert.equal(d.verdict, 'drop')
  assert.equal(d.reply, undefined)
  assert.equal(await decided(e, ev({ from: 'client', wire: msg(4, 'A', mimeText('hi')) })), FORWARD)
})

test('shout.ts rewrites hello to HELLO', async () => {
  const e = await engineFor('shout.ts')
  const d = await decided(e, ev({ from: 'client', wire: msg(3, 'A', mimeText('oh hello there')) }))
  assert.equal(d.action, 'rewrite')
  assert.match(d.bytes!.toString(), /\r\n\r\noh HELLO there$/)
})

test('no-executables.ts declines setup.exe but not notes.txt', async () => {
  const e = await engineFor('no-executables.ts')
  const d = await decided(e, ev({ from: 'server', wire: serverMsg('bob@example.net', 'Bob', invite('setup.exe')) }))
  assert.equal(d.verdict, 'drop')
  assert.match(d.inject![0]!.bytes.toString(), /Invitation-Command: CANCEL\r\nInvitation-Cookie: 77\r\nCancel-Code: REJECT/)
  assert.equal(await decided(e, ev({ from: 'server', wire: serverMsg('bob@example.net', 'Bob', invite('notes.txt')) })), FORWARD)
})

test('welcome.js injects a notice when someone joins', async () => {
  const e = await engineFor('welcome.js')
  const d = await decided(e, ev({ from: 'server', wire: 'JOI bob@example.net Bob 0\r\n' }))
  assert.equal(d.action, 'inject')
  assert.match(d.inject![0]!.bytes.toString(), /^MSG compliance@example\.com Compliance \d+\r\n[^]*This conversation is recorded\.$/)
})

test('who-may-talk.ts refuses an intern at sign-in and calls outside the company', async () => {
  const e = await engineFor('who-may-talk.ts')
  const ns = (wire: string, account: string | null): CommandScopeEvent => ev({ role: 'NS', from: 'client', wire, account })
  assert.equal(await decided(e, ns('VER 1 MSNP12 CVR0\r\n', null)), FORWARD)
  assert.equal((await decided(e, ns('USR 3 TWN I intern-joe@example.com\r\n', 'intern-joe@example.com'))).reply?.toString(), '911 3\r\n')
  assert.equal((await decided(e, ev({ from: 'client', wire: 'CAL 2 someone@elsewhere.example\r\n' }))).reply?.toString(), '217 2\r\n')
  assert.equal(await decided(e, ev({ from: 'client', wire: 'CAL 2 bob@example.com\r\n' })), FORWARD)
})

test('audit.ts tags, logs and masks, then lets the message through', async () => {
  const e = await engineFor('audit.ts')
  const d = await decided(e, ev({ from: 'server', wire: serverMsg('eve@elsewhere.example', 'Eve', mimeText('darn it')) }))
  assert.equal(d.action, 'rewrite')
  assert.deepEqual(d.tags, ['external'])
  assert.match(d.bytes!.toString(), /\r\n\r\n\*\*\*\* it$/)
})

test('directory-lookup.ts blocks messages from a listed sender, asynchronously', async () => {
  const e = await engineFor('directory-lookup.ts')
  const p = e.decide(ev({ from: 'server', wire: serverMsg('spammer@example.org', 'Buy', mimeText('cheap')) }), ctx)
  assert.ok(p instanceof Promise)
  assert.equal((await p).verdict, 'drop')
  assert.equal((await decided(e, ev({ from: 'server', wire: serverMsg('bob@example.com', 'Bob', mimeText('hi')) }))).verdict, 'forward')
})

test('policy.yaml: accounts, contacts, files, words, personal messages, typing and card numbers', async () => {
  const e = await engineFor('policy.yaml')
  const ns = (wire: string, account: string): CommandScopeEvent => ev({ role: 'NS', from: 'client', wire, account })
  assert.equal((await decided(e, ns('USR 3 TWN I mallory@example.net\r\n', 'mallory@example.net'))).reply?.toString(), '911 3\r\n')
  assert.equal(await decided(e, ns('USR 3 TWN I alice@example.com\r\n', 'alice@example.com')), FORWARD)
  assert.equal((await decided(e, ns('UUX 9 53\r\n<Data><PSM>at lunch</PSM><CurrentMedia></CurrentMedia></Data>', 'alice@example.com'))).reply?.toString(), 'UUX 9 0\r\n')
  assert.equal((await decided(e, ev({ from: 'client', wire: 'CAL 4 ads@spam.example\r\n' }))).reply?.toString(), '217 4\r\n')
  assert.equal((await decided(e, ev({ from: 'client', wire: msg(5, 'A', mimeText('my password is hunter2')) }))).reply?.toString(), 'NAK 5\r\n')
  assert.match((await decided(e, ev({ from: 'client', wire: msg(6, 'A', mimeText('darn')) }))).bytes!.toString(), /\r\n\r\n\*\*\*\*$/)
  assert.equal((await decided(e, ev({ from: 'client', wire: msg(7, 'A', mimeText('card 4111 1111 1111 1111')) }))).reply?.toString(), 'NAK 7\r\n')
  assert.equal((await decided(e, ev({ from: 'client', wire: msg(8, 'S', invite('tool.exe')) }))).rule, 'policy: file-transfers')
  assert.equal(await decided(e, ev({ from: 'client', wire: msg(9, 'S', invite('minutes.pdf')) })), FORWARD)
})

test('the rate limit of policy.yaml lets 30 messages a minute through per account', async () => {
  const e = await engineFor('policy.yaml')
  const verdicts: string[] = []
  for (let i = 1; i <= 31; i++) verdicts.push((await decided(e, ev({ from: 'client', wire: msg(i, 'A', mimeText(`n${i}`)) }))).verdict)
  assert.deepEqual(verdicts.filter((v) => v === 'drop').length, 1)
  assert.equal(verdicts.at(-1), 'drop')
})

test('block-all.yaml refuses the first command; words.txt feeds --block-words', async () => {
  const e = await engineFor('block-all.yaml')
  assert.equal((await decided(e, ev({ role: 'DS', from: 'client', wire: 'VER 1 MSNP8 CVR0\r\n', account: null }))).reply?.toString(), 'VER 1 0\r\n')
  const w = new RuleEngine({ clock })
  await installPresets(w, { blockWords: path('words.txt') })
  assert.equal((await decided(w, ev({ from: 'client', wire: msg(2, 'N', mimeText('strictly CONFIDENTIAL')) }))).reply?.toString(), 'NAK 2\r\n')
  assert.equal(await decided(w, ev({ from: 'client', wire: msg(3, 'N', mimeText('confidentiality')) })), FORWARD)
  assert.match(await readFile(path('words.txt'), 'utf8'), /^# msnscope proxy --block-words/)
})

test('a rule-error names the rule when an example-style async rule rejects', async () => {
  const e = new RuleEngine({ clock })
  const { validateRules } = await import('../../src/rules/validate.js')
  e.setRules('x.ts', validateRules([{ name: 'flaky', match: async () => { throw new Error('directory down') }, action: 'block' }], 'x.ts'))
  const d = await decided(e, ev({ from: 'client', wire: msg(2, 'A', mimeText('x')) }))
  assert.equal(d.verdict, 'forward')
  assert.equal((d.events![0] as RuleErrorEvent).error, 'directory down')
})

test('docs/rules.md shows each example exactly as the file is', async () => {
  const md = await readFile(new URL('../../docs/rules.md', import.meta.url), 'utf8')
  const shown = [...md.matchAll(/`docs\/examples\/rules\/([^`]+)`:\n\n```[a-z]*\n([^]*?)```\n/g)]
  assert.ok(shown.length >= 9, `${shown.length} examples shown`)
  for (const [, file, text] of shown) assert.equal(text, await readFile(path(file!), 'utf8'), `docs/rules.md differs from ${file}`)
})
