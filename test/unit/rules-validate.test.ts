/** Rules are checked when they load, with errors that name the file, the rule and the problem. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MsnscopeError } from '../../src/errors.js'
import { describeRule } from '../../src/rules/describe.js'
import { compileMatch, globToRegExp, wordsRegExp } from '../../src/rules/matchers.js'
import { policyRules } from '../../src/rules/policy.js'
import type { Rule } from '../../src/rules/rule.js'
import { validateRules } from '../../src/rules/validate.js'

const problem = (rules: unknown): string => {
  try {
    validateRules(rules, 'rules.ts')
  } catch (err) {
    assert.ok(err instanceof MsnscopeError)
    assert.equal(err.code, 'ERULE')
    return err.message
  }
  assert.fail('expected a validation error')
}

test('each kind of mistake is named with its file, rule and position', () => {
  const cases: [unknown, string][] = [
    [{ name: 'x' }, 'rules.ts: expected a list of rules (export default [ … ]), got object'],
    [[{ name: 'a', match: {}, action: 'block' }, 'oops'], 'rules.ts: rule (#2): must be an object with name, match and action, not string'],
    [[{ match: {}, action: 'block' }], 'rules.ts: rule (#1): name must be a non-empty string'],
    [[{ name: 'm', action: 'block' }], 'rules.ts: rule "m" (#1): match is missing'],
    [[{ name: 'm', match: { verbs: 'MSG' }, action: 'block' }], 'rules.ts: rule "m" (#1): match.verbs is not a match key'],
    [[{ name: 'm', match: { from: 'alice' }, action: 'block' }], 'rules.ts: rule "m" (#1): match.from must be "client" or "server", not "alice"'],
    [[{ name: 'm', match: { role: 'XS' }, action: 'block' }], 'rules.ts: rule "m" (#1): match.role: "XS" is not one of DS, NS, SB, ?'],
    [[{ name: 'm', match: { any: [{ text: 3 }] }, action: 'block' }], 'rules.ts: rule "m" (#1): match.any[0].text must be a string, a RegExp or a list of them, not number'],
    [[{ name: 'a', match: {} }], 'rules.ts: rule "a" (#1): action is missing'],
    [[{ name: 'a', match: {}, action: 'drop' }], 'rules.ts: rule "a" (#1): action "drop" is not one of pass, block, reject, close'],
    [[{ name: 'a', match: {}, action: 'rewrite' }], 'rules.ts: rule "a" (#1): action "rewrite" is not one of pass, block, reject, close (rewrite needs an object: { type: "rewrite", … })'],
    [[{ name: 'a', match: {}, action: { type: 'reject', code: 42 } }], 'rules.ts: rule "a" (#1): action.code must be an MSNP error number (100-999)'],
    [[{ name: 'a', match: {}, action: { type: 'reject', status: 200 } }], 'rules.ts: rule "a" (#1): action.status must be an HTTP error status (400-599)'],
    [[{ name: 'a', match: {}, action: { type: 'block', code: 911 } }], 'rules.ts: rule "a" (#1): action.code is not allowed for block (allowed: answer)'],
    [[{ name: 'a', match: {}, action: { type: 'rewrite' } }], 'rules.ts: rule "a" (#1): action changes nothing'],
    [[{ name: 'a', match: {}, action: { type: 'rewrite', args: ['two words'] } }], 'rules.ts: rule "a" (#1): action.args must be a list of tokens without spaces, or a function'],
    [[{ name: 'a', match: {}, action: { type: 'rewrite', headers: { 'Bad Name': 'x' } } }], 'rules.ts: rule "a" (#1): action.headers: "Bad Name" is not a header name'],
    [[{ name: 'a', match: {}, action: { type: 'inject', commands: 'PNG' } }], 'rules.ts: rule "a" (#1): action.to must be "client" or "server"'],
    [[{ name: 'a', match: {}, action: { type: 'inject', to: 'server', commands: [{ verb: 'MESSAGE' }] } }], 'rules.ts: rule "a" (#1): action.commands[0].verb must be three letters or digits, not "MESSAGE"'],
    [[{ name: 'a', match: {}, action: { type: 'inject', to: 'client', commands: 'MSG x\r\nMSG y' } }], 'rules.ts: rule "a" (#1): action.commands must be one command line'],
    [[{ name: 'a', match: {}, action: { type: 'tag', tags: [] } }], 'rules.ts: rule "a" (#1): action.tags must be a non-empty list of strings'],
    [[{ name: 'a', match: {}, action: 'pass', times: 0 }], 'rules.ts: rule "a" (#1): times must be a whole number of at least 1'],
    [[{ name: 'a', match: {}, action: 'pass', when: 'now' }], 'rules.ts: rule "a" (#1): when is not a rule key'],
    [[{ name: 'a', match: {}, action: 'pass' }, { name: 'a', match: {}, action: 'block' }], 'rules.ts: rule "a" (#2): the name is used by an earlier rule in this file'],
  ]
  for (const [rules, expected] of cases) assert.ok(problem(rules).startsWith(expected), `${problem(rules)}\n  should start with\n${expected}`)
})

test('valid rules compile; functions are accepted as they are', () => {
  const rules = validateRules([
    { name: 'a', match: { verb: ['msg', 'SDG'], from: 'client', dialect: { min: 8 } }, action: 'block' },
    { name: 'b', match: () => true, action: () => 'pass' },
    { name: 'c', match: { text: /x/g }, action: { type: 'inject', to: 'server', commands: () => [] } },
  ] satisfies Rule[], 'rules.ts')
  assert.deepEqual(rules.map((r) => [r.rule.name, r.source, r.index]), [['a', 'rules.ts', 1], ['b', 'rules.ts', 2], ['c', 'rules.ts', 3]])
})

test('globs, words and regular expressions', () => {
  assert.ok(globToRegExp('*@example.com').test('Alice@Example.com'))
  assert.ok(!globToRegExp('*@example.com').test('alice@example.com.evil'))
  assert.ok(globToRegExp('report-??.pdf').test('report-01.pdf'))
  const w = wordsRegExp(['darn', 'c++'])
  assert.ok(w.test('Darn!') && w.test('I like c++') && !w.test('darnation') && !w.test('übdarn'))
  const re = /hello/g
  const t = compileMatch({ text: re })
  const view = { text: 'hello hello' } as Parameters<typeof t>[0]
  assert.ok(t(view) && t(view) && t(view), 'a /g expression matches every time')
})

test('describeRule writes one sentence for each kind of rule', () => {
  const s = (r: Rule): string => describeRule(r)
  assert.equal(s({ name: 'a', match: { verb: 'MSG', from: 'client', text: 'secret' }, action: 'block' }),
    'Blocks MSG from the client whose text contains "secret", answering as the protocol expects (NAK, decline, login error).')
  assert.equal(s({ name: 'b', match: { verb: 'CAL', contact: '*@spam.example' }, action: { type: 'reject', code: 217 } }),
    'Rejects CAL with "*@spam.example" with error 217.')
  assert.equal(s({ name: 'c', match: { fileTransfer: true, fileName: ['*.exe', '*.scr'] }, action: 'block' }),
    'Blocks any command that is a file-transfer invitation and offering a file named "*.exe" or "*.scr", answering as the protocol expects (NAK, decline, login error).')
  assert.equal(s({ name: 'd', match: { verb: 'MSG', words: ['darn'] }, action: { type: 'rewrite', mask: ['darn'] } }),
    'Rewrites MSG whose text has the word "darn" (masking "darn").')
  assert.equal(s({ name: 'e', match: { verb: 'JOI' }, action: { type: 'inject', to: 'client', commands: 'PNG' } }), 'Sends extra commands to the client on JOI.')
  assert.equal(s({ name: 'f', match: () => true, action: 'close', times: 1 }), 'Closes the connection on commands that pass its own test (at most 1 time).')
  assert.equal(s({ name: 'g', match: {}, action: () => 'pass' }), 'Decides in code what to do with any command.')
  assert.equal(s({ name: 'h', match: {}, action: 'pass', description: 'Custom words.' }), 'Custom words.')
  assert.equal(s({ name: 'i', match: { role: 'SB', dialect: { min: 8, max: 12 }, not: { account: 'boss@example.com' } }, action: { type: 'tag', tags: ['x'] } }),
    'Tags any command on SB connections, in MSNP8 to MSNP12 and unless it is any command signed in as "boss@example.com" as "x".')
})

test('policy files: errors name the file, the line or the key', () => {
  const err = (text: string): string => {
    try { policyRules(text, 'office.yaml') } catch (e) { assert.ok(e instanceof MsnscopeError); return e.message }
    assert.fail('expected an error')
  }
  assert.match(err('accounts: [a\nwords: x'), /^office\.yaml: line \d+: /)
  assert.equal(err('acounts: { allow: [x] }'), 'office.yaml: acounts is not a policy key here (allowed: block-all, accounts, contacts, file-transfers, words, presence, personal-messages, rate-limit, replay, rules)')
  assert.equal(err('accounts: { allow: [] }'), 'office.yaml: accounts.allow must be a list of strings')
  assert.equal(err('file-transfers: maybe'), 'office.yaml: file-transfers must be block (or true) or allow (or false)')
  assert.equal(err('rate-limit: { messages: 0 }'), 'office.yaml: rate-limit.messages must be a whole number of at least 1')
  assert.equal(err('rate-limit: { messages: 5, per: soon }'), 'office.yaml: rate-limit.per must be a duration such as 10s, 1m or 1h')
  assert.match(err('rules:\n  - { name: x, match: { text: "/(/" }, action: block }'), /^office\.yaml: the regular expression \/\(\/ is invalid/)
  assert.deepEqual(policyRules('', 'empty.yaml'), [])
})

test('policy rules validate, and the rules section turns /…/ into regular expressions', () => {
  const rules = validateRules(policyRules('block-all: false\nfile-transfers: { block: ["*.exe"] }\nrules:\n  - { name: r, match: { text: "/^hi$/i", contentType: text/plain }, action: block }\n', 'p.yaml'), 'p.yaml')
  assert.deepEqual(rules.map((r) => r.rule.name), ['policy: file-transfers', 'r'])
  const m = rules[1]!.rule.match as { text: unknown; contentType: unknown }
  assert.ok(m.text instanceof RegExp && m.text.flags === 'i')
  assert.equal(m.contentType, 'text/plain')
})
