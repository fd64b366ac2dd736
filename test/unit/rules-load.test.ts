/** Rule files: scripts and policies load without a build step; failures say which file and why. */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { rulesFromFlags } from '../../src/cli/rule-flags.js'
import type { ScopeEvent, StatsEvent } from '../../src/events.js'
import { MsnscopeError } from '../../src/errors.js'
import { DryRun } from '../../src/rules/dry-run.js'
import { RuleEngine, type Clock } from '../../src/rules/engine.js'
import { loadRuleFile, startRules } from '../../src/rules/load.js'
import type { Rule } from '../../src/rules/rule.js'
import { validateRules } from '../../src/rules/validate.js'
import { mimeText, msg, scopeEvents } from '../helpers/scope-events.js'

const clock: Clock = { now: () => 0, after: () => () => {} }

async function dir(t: TestContext, type: 'module' | 'commonjs' = 'module'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'msnscope-load-'))
  t.after(() => rm(d, { recursive: true, force: true }))
  await writeFile(join(d, 'package.json'), JSON.stringify({ type }))
  return d
}

async function loadError(path: string): Promise<string> {
  try { await loadRuleFile(path) } catch (err) {
    assert.ok(err instanceof MsnscopeError)
    assert.equal(err.code, 'ERULE')
    return err.message
  }
  assert.fail(`${path} loaded`)
}

test('TypeScript, JavaScript and CommonJS scripts load; `rules` works as well as the default export', async (t) => {
  const d = await dir(t)
  await writeFile(join(d, 'a.ts'), `const n: number = 1\nexport default [{ name: 'a' + n, match: { verb: 'MSG' }, action: 'block' as const }]\n`)
  await writeFile(join(d, 'b.mjs'), `export const rules = [{ name: 'b', match: () => true, action: 'pass' }]\n`)
  await writeFile(join(d, 'c.cts'), `module.exports = { default: [{ name: 'c', match: {}, action: 'close' }] }\n`)
  const cjs = await dir(t, 'commonjs')
  await writeFile(join(cjs, 'd.ts'), `export default [{ name: 'd', match: {}, action: 'pass' }]\n`)
  const names = await Promise.all([join(d, 'a.ts'), join(d, 'b.mjs'), join(d, 'c.cts'), join(cjs, 'd.ts')].map(async (p) => (await loadRuleFile(p)).map((r) => r.rule.name)))
  assert.deepEqual(names, [['a1'], ['b'], ['c'], ['d']])
})

test('a file that cannot be loaded is an error naming the file and the reason', async (t) => {
  const d = await dir(t)
  await writeFile(join(d, 'syntax.ts'), 'export default [ { name: ')
  await writeFile(join(d, 'throws.js'), 'throw new Error("no directory today")\n')
  await writeFile(join(d, 'empty.ts'), 'export const x = 1\n')
  await writeFile(join(d, 'bad.ts'), 'export default [{ name: "x", match: { verb: 3 }, action: "block" }]\n')
  await writeFile(join(d, 'rules.txt'), '')
  assert.match(await loadError(join(d, 'syntax.ts')), /syntax\.ts: cannot load: /)
  assert.match(await loadError(join(d, 'throws.js')), /throws\.js: cannot load: no directory today$/)
  assert.match(await loadError(join(d, 'empty.ts')), /empty\.ts: expected a list of rules \(export default \[ … \]\), got undefined$/)
  assert.match(await loadError(join(d, 'bad.ts')), /bad\.ts: rule "x" \(#1\): match\.verb must be a string or a list of strings, not number$/)
  assert.match(await loadError(join(d, 'rules.txt')), /rules\.txt: a rule file must be a script \(\.ts, \.js, \.mjs …\) or a policy \(\.yaml, \.yml\)$/)
  assert.match(await loadError(join(d, 'missing.yaml')), /missing\.yaml: cannot read: ENOENT$/)
})

test('the flags: presets first, then scripts, then policies; listing and final counters', async (t) => {
  const d = await dir(t)
  await writeFile(join(d, 'r.ts'), `export default [{ name: 'mine', match: { verb: 'CAL' }, action: 'reject' }]\n`)
  await writeFile(join(d, 'p.yaml'), 'words: { mask: [darn] }\n')
  await writeFile(join(d, 'w.txt'), '# words\nsecret\n')
  assert.equal(await rulesFromFlags({}, { watch: false }), null)
  await assert.rejects(rulesFromFlags({ 'default-action': 'drop' }, { watch: false }), /--default-action: expected pass or block, got "drop"/)
  await assert.rejects(rulesFromFlags({ policy: [join(d, 'r.ts')] }, { watch: false }), /r\.ts: a policy file must be YAML/)
  const emitted: unknown[] = []
  const active = await rulesFromFlags({
    rules: [join(d, 'r.ts')], policy: [join(d, 'p.yaml')], 'block-file-transfers': true, 'block-words': join(d, 'w.txt'), 'rule-timeout': '20ms',
  }, { watch: false, emit: (ev) => emitted.push(ev), statsIntervalMs: 0 })
  assert.ok(active !== null)
  assert.equal(active.engine.timeoutMs, 20)
  assert.deepEqual(active.engine.rules.map((r) => r.rule.name), ['block-file-transfers', 'block-words', 'mine', 'policy: mask words'])
  assert.match(active.listing()[2]!, /r\.ts: mine: Rejects CAL with the error a server would send\.$/)
  active.close()
  const stats = emitted.at(-1) as StatsEvent
  assert.equal(stats.kind, 'stats')
  assert.deepEqual(stats.counters, { 'rule:block-file-transfers': 0, 'rule:block-words': 0, 'rule:mine': 0, 'rule:policy: mask words': 0, 'rule-errors': 0, 'rule-timeouts': 0 })
  const blockAll = await startRules({ defaultAction: 'block', watch: false, clock })
  assert.ok(blockAll !== null && blockAll.engine.rules.length === 0 && blockAll.engine.defaultAction === 'block')
  blockAll.close()
})

test('a dry run labels what rules would do, keeps the order with asynchronous rules, and reports hits', async () => {
  const engine = new RuleEngine({ clock })
  engine.setRules('r.ts', validateRules([
    { name: 'slowly shout', match: async (c) => c.text === 'hello', action: { type: 'rewrite', text: 'HELLO' } },
    { name: 'no secrets', match: { text: 'secret' }, action: 'block' },
  ] satisfies Rule[], 'r.ts'))
  const out: ScopeEvent[] = []
  const dry = new DryRun(engine, (e) => out.push(e))
  const events = scopeEvents([
    { conn: 'c1', role: 'SB', from: 'client', wire: msg(1, 'A', mimeText('hello')) + msg(2, 'A', mimeText('a secret')) + msg(3, 'A', mimeText('bye')) },
    { conn: 'c1', role: 'SB', from: 'server', wire: 'BYE bob@example.net\r\n' },
  ])
  for (const e of events) dry.sink(e)
  await dry.drain()
  assert.deepEqual(out.map((e) => e.seq), events.map((e) => e.seq), 'same events, same order')
  const cmds = out.filter((e) => e.kind === 'command')
  assert.deepEqual(cmds.map((e) => [e.action, e.rule ?? null]), [['rewrite', 'slowly shout'], ['block', 'no secrets'], ['pass', null], ['pass', null]])
  assert.match(cmds[0]!.forwarded!.toString(), /^MSG 1 A \d+\r\n[^]*HELLO$/)
  assert.deepEqual(dry.hits.map((h) => [h.line, h.action, h.rule, h.forwarded ?? null, h.reply ?? null]), [
    ['MSG 1 A 117', 'rewrite', 'slowly shout', 'MSG 1 A 117', null],
    ['MSG 2 A 120', 'block', 'no secrets', null, ['NAK 2']],
  ])
  const report = dry.render()
  assert.match(report, /#1 c1 C>S MSG 1 A 117\n {6}rewrite by "slowly shout", forwarded as: MSG 1 A 117\n/)
  assert.match(report, / {6}answered: NAK 2\n/)
  assert.match(report, /rule:slowly shout +1\n/)
})

test('reloading on demand (the dashboard key) picks up changes, and reports a broken file', async (t) => {
  const d = await dir(t)
  const file = join(d, 'r.ts')
  await writeFile(file, `export default [{ name: 'one', match: {}, action: 'pass' }]\n`)
  const active = await startRules({ rules: [file], watch: false, clock, statsIntervalMs: 0 })
  assert.ok(active !== null)
  t.after(() => active.close())
  await writeFile(file, `export default [{ name: 'one', match: {}, action: 'pass' }, { name: 'two', match: {}, action: 'block' }]\n`)
  assert.equal(await active.reload(), '2 rules from 1 sources')
  await writeFile(file, `export default [{ name: 'one', match: {}, action: 'explode' }]\n`)
  await assert.rejects(active.reload(), /r\.ts: rule "one" \(#1\): action "explode" is not one of pass, block, reject, close \(the previous rules of .* stay active\)/)
  assert.deepEqual(active.engine.rules.map((r) => r.rule.name), ['one', 'two'])
})

test('in a dry run, rule-error events join the stream and every event is numbered in order', async () => {
  const engine = new RuleEngine({ clock })
  engine.setRules('r.ts', validateRules([{ name: 'broken', match: () => { throw new Error('nope') }, action: 'block' }] satisfies Rule[], 'r.ts'))
  const out: ScopeEvent[] = []
  const dry = new DryRun(engine, (e) => out.push(e))
  for (const e of scopeEvents([{ conn: 'c1', role: 'NS', from: 'client', wire: 'VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@example.com\r\n' }])) dry.sink(e)
  await dry.drain()
  out.push(dry.finalStats())
  assert.deepEqual(out.map((e) => [e.seq, e.kind]), [[1, 'rule-error'], [2, 'command'], [3, 'rule-error'], [4, 'command'], [5, 'stats']])
  assert.equal(out[0]!.ts, out[1]!.ts)
})
