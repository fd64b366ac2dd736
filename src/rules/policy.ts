/**
 * The declarative policy file (YAML) for the common needs without code. It compiles to ordinary
 * rules, in this order (the first that matches decides):
 *
 * ```yaml
 * block-all: true                 # every MSN command, TCP and gateway
 * accounts:  { allow: ['*@example.com'], deny: [mallory@example.com] }   # who may sign in
 * contacts:  { allow: [...], deny: ['*@spam.example'] }                    # who they may talk to
 * file-transfers: block           # or { allow: ['*.txt'] } or { block: ['*.exe'] }
 * words:     { block: [secret], mask: [darn] }
 * presence: block                 # status changes after sign-in are not passed on
 * personal-messages: block        # personal messages are not published
 * rate-limit: { messages: 20, per: 1m }
 * replay:                         # a match, and how to replay what it matches
 *   - { verb: MSG, from: client, text: ping, times: 2, to: server }
 *   - { name: greeting, verb: MSG, text: '!greeting', file: greeting.jsonl }
 * rules:                          # declarative rules: name, match, action
 *   - { name: no typing, match: { verb: MSG, contentType: text/x-msmsgscontrol }, action: block }
 * ```
 *
 * Pure: takes the file's text, returns rules; errors name the file, the key and what is wrong.
 * In `rules`, a string written `/…/flags` is a regular expression.
 */
import { parseDocument } from 'yaml'
import { MsnscopeError } from '../errors.js'
import { checkMatch, globToRegExp } from './matchers.js'
import { MESSAGE_VERBS } from './presets.js'
import type { CommandView, MatchSpec, ReplayAction, Rule } from './rule.js'
import { checkAction } from './validate.js'

const TOP_KEYS = ['block-all', 'accounts', 'contacts', 'file-transfers', 'words', 'presence', 'personal-messages', 'rate-limit', 'replay', 'rules']
const REPLAY_KEYS = ['times', 'to', 'file', 'conn']

/** Connections remembered by stateful policy rules (presence, rate limit). */
const MAX_TRACKED = 4096

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

class PolicyError extends Error {}
const fail = (at: string, problem: string): never => { throw new PolicyError(`${at} ${problem}`) }

function keys(v: Record<string, unknown>, at: string, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(`${at}${k}`, `is not a policy key here (allowed: ${allowed.join(', ')})`)
}

function stringList(v: unknown, at: string): string[] {
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.trim() !== '')) return fail(at, 'must be a list of strings')
  return list.map((s: string) => s.trim())
}

const on = (v: unknown, at: string): boolean => {
  if (v === true || v === 'block') return true
  if (v === false || v === 'allow' || v === 'pass' || v === null) return false
  return fail(at, 'must be block (or true) or allow (or false)')
}

/** `30s`, `1m`, `2h`, `500ms` or a number of seconds. */
function duration(v: unknown, at: string): number {
  if (typeof v === 'number' && v > 0) return v * 1000
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim()) : null
  if (m === null) return fail(at, 'must be a duration such as 10s, 1m or 1h')
  const n = Number(m[1]), unit = m[2] ?? 's'
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000)
}

const globs = (patterns: readonly string[]): ((s: string) => boolean) => {
  const res = patterns.map(globToRegExp)
  return (s) => res.some((re) => re.test(s))
}

/** A small bounded map: oldest key forgotten first. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > MAX_TRACKED) map.delete(map.keys().next().value as string)
}

/** `/…/flags` strings become RegExps, deeply (only inside `rules`). */
function regexps(v: unknown): unknown {
  if (typeof v === 'string') {
    const m = /^\/(.+)\/([dgimsuvy]*)$/s.exec(v)
    if (m !== null) {
      try { return new RegExp(m[1]!, m[2]) } catch (err) { throw new PolicyError(`the regular expression ${v} is invalid: ${(err as Error).message}`) }
    }
    return v
  }
  if (Array.isArray(v)) return v.map(regexps)
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, regexps(x)]))
  return v
}

/** The rules a policy file describes. Throws MsnscopeError (ERULE) naming the file and the key. */
export function policyRules(text: string, file: string): Rule[] {
  const doc = parseDocument(text, { prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const line = text.slice(0, e.pos[0]).split('\n').length
    const where = `line ${line}: `
    throw new MsnscopeError('ERULE', `${file}: ${where}${e.message.split('\n')[0]}`)
  }
  const value: unknown = doc.toJS()
  try {
    return compilePolicy(value ?? {})
  } catch (err) {
    if (err instanceof PolicyError) throw new MsnscopeError('ERULE', `${file}: ${err.message}`)
    throw err
  }
}

/** The rules of an already parsed policy object. */
export function compilePolicy(p: unknown): Rule[] {
  if (!isObject(p)) return fail('the policy', 'must be a mapping of keys (block-all, accounts, contacts, …)')
  keys(p, '', TOP_KEYS)
  const rules: Rule[] = []

  if (p['block-all'] !== undefined && on(p['block-all'], 'block-all')) {
    rules.push({ name: 'policy: block-all', match: {}, action: 'block', description: 'Blocks every MSN command, on TCP and on the HTTP gateway; clients are refused at their first command.' })
  }

  if (p.accounts !== undefined) {
    const a = p.accounts
    if (!isObject(a)) fail('accounts', 'must have allow and/or deny lists')
    keys(a as Record<string, unknown>, 'accounts.', ['allow', 'deny'])
    const accounts = a as Record<string, unknown>
    // version negotiation passes; the refusal is the login (USR 911), as a real server does it
    const negotiation = { verb: ['VER', 'CVR', 'CVQ', 'INF'] }
    if (accounts.deny !== undefined) {
      const deny = stringList(accounts.deny, 'accounts.deny')
      rules.push({ name: 'policy: deny accounts', match: { account: deny, not: negotiation }, action: 'block',
        description: `Refuses sign-in (911) and blocks everything else for ${deny.join(', ')}.` })
    }
    if (accounts.allow !== undefined) {
      const allow = stringList(accounts.allow, 'accounts.allow')
      rules.push({ name: 'policy: allow accounts', match: { account: '*', not: { any: [{ account: allow }, negotiation] } }, action: 'block',
        description: `Refuses sign-in (911) to every account except ${allow.join(', ')}.` })
    }
  }

  if (p.contacts !== undefined) {
    const c = p.contacts
    if (!isObject(c)) fail('contacts', 'must have allow and/or deny lists')
    keys(c as Record<string, unknown>, 'contacts.', ['allow', 'deny'])
    const contacts = c as Record<string, unknown>
    // contact-list downloads announce how many entries follow: leave them whole
    const listSync = { verb: ['SYN', 'LST', 'LSG', 'BPR', 'GTC', 'BLP'] }
    if (contacts.deny !== undefined) {
      const deny = stringList(contacts.deny, 'contacts.deny')
      rules.push({ name: 'policy: deny contacts', match: { contact: deny, not: listSync },
        action: (v) => v.from === 'client' ? 'reject' : 'block',
        description: `Stops conversations with ${deny.join(', ')}: their invitations, messages and presence are dropped; calls and messages to them fail (217, NAK).` })
    }
    if (contacts.allow !== undefined) {
      const allow = stringList(contacts.allow, 'contacts.allow')
      const ok = globs(allow)
      const sync = new Set(listSync.verb)
      rules.push({ name: 'policy: allow contacts', match: (v: CommandView) => !sync.has(v.verb) && v.contacts.some((x) => !ok(x)),
        action: (v) => v.from === 'client' ? 'reject' : 'block',
        description: `Allows conversations only with ${allow.join(', ')}; anything with anyone else is dropped or refused.` })
    }
  }

  if (p['file-transfers'] !== undefined) {
    const ft = p['file-transfers']
    const description = (what: string): string => `Blocks ${what} in both directions; the inviter sees a decline and the chat goes on.`
    if (isObject(ft)) {
      keys(ft, 'file-transfers.', ['allow', 'block'])
      if (ft.block !== undefined && ft.allow !== undefined) fail('file-transfers', 'takes allow or block, not both')
      if (ft.allow !== undefined) {
        const allow = stringList(ft.allow, 'file-transfers.allow')
        rules.push({ name: 'policy: file-transfers', match: { fileTransfer: true, not: { fileName: allow } }, action: 'block', description: description(`file transfers except of ${allow.join(', ')}`) })
      } else if (ft.block !== undefined) {
        const block = typeof ft.block === 'boolean' ? ft.block : stringList(ft.block, 'file-transfers.block')
        if (block === true) rules.push({ name: 'policy: file-transfers', match: { fileTransfer: true }, action: 'block', description: description('file transfers') })
        else if (block !== false) rules.push({ name: 'policy: file-transfers', match: { fileTransfer: true, fileName: block }, action: 'block', description: description(`transfers of ${block.join(', ')}`) })
      }
    } else if (on(ft, 'file-transfers')) {
      rules.push({ name: 'policy: file-transfers', match: { fileTransfer: true }, action: 'block', description: description('file transfers') })
    }
  }

  if (p.words !== undefined) {
    const w = p.words
    if (!isObject(w)) fail('words', 'must have block and/or mask lists')
    keys(w as Record<string, unknown>, 'words.', ['block', 'mask'])
    const words = w as Record<string, unknown>
    if (words.block !== undefined) {
      const block = stringList(words.block, 'words.block')
      rules.push({ name: 'policy: block words', match: { verb: MESSAGE_VERBS, words: block }, action: 'block' })
    }
    if (words.mask !== undefined) {
      const mask = stringList(words.mask, 'words.mask')
      rules.push({ name: 'policy: mask words', match: { verb: MESSAGE_VERBS, words: mask }, action: { type: 'rewrite', mask } })
    }
  }

  if (p.presence !== undefined && on(p.presence, 'presence')) {
    const signedIn = new Map<string, true>()
    rules.push({
      name: 'policy: presence',
      match: (v: CommandView) => {
        if (v.verb !== 'CHG' || v.from !== 'client') return false
        if (signedIn.has(v.conn)) return true
        remember(signedIn, v.conn, true)
        return false
      },
      action: 'block',
      description: 'Keeps the status chosen at sign-in: later status changes are answered as accepted but not passed on.',
    })
  }

  if (p['personal-messages'] !== undefined && on(p['personal-messages'], 'personal-messages')) {
    rules.push({ name: 'policy: personal-messages', match: { verb: 'UUX', from: 'client' }, action: 'block',
      description: 'Does not publish personal messages (UUX is answered as accepted but not passed on).' })
  }

  if (p['rate-limit'] !== undefined) {
    const r = p['rate-limit']
    if (!isObject(r)) fail('rate-limit', 'must be { messages: N, per: DURATION }')
    keys(r as Record<string, unknown>, 'rate-limit.', ['messages', 'per'])
    const rl = r as Record<string, unknown>
    const max = rl.messages
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) fail('rate-limit.messages', 'must be a whole number of at least 1')
    const per = duration(rl.per ?? '1m', 'rate-limit.per')
    const sent = new Map<string, number[]>()
    rules.push({
      name: 'policy: rate-limit',
      match: (v: CommandView) => {
        if (v.from !== 'client' || v.text === null) return false
        const key = v.account ?? v.conn
        const recent = (sent.get(key) ?? []).filter((t) => t > v.time - per)
        const over = recent.length >= (max as number)
        if (!over) recent.push(v.time)
        remember(sent, key, recent)
        return over
      },
      action: 'block',
      description: `Allows each account ${max as number} messages per ${String(rl.per ?? '1m')}; further messages are blocked (NAK).`,
    })
  }

  // after the entries that block or rewrite: what they stop is not replayed
  if (p.replay !== undefined) rules.push(...replayRules(p.replay))

  if (p.rules !== undefined) {
    if (!Array.isArray(p.rules)) fail('rules', 'must be a list of rules (name, match, action)')
    for (const r of regexps(p.rules) as unknown[]) rules.push(r as Rule)
  }
  return rules
}

/** `replay:` entries: each is a match (verb, from, text …) plus times, to, file, conn and a name. */
function replayRules(v: unknown): Rule[] {
  const list = Array.isArray(v) ? v : [v]
  if (list.length === 0) fail('replay', 'is an empty list')
  const names = new Set<string>()
  return list.map((entry: unknown, i): Rule => {
    const at = Array.isArray(v) ? `replay[${i}]` : 'replay'
    if (!isObject(entry)) return fail(at, 'must be a match with times, to, file or conn ({ verb: MSG, from: client, times: 2 })')
    const { name, ...rest } = entry
    if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) fail(`${at}.name`, 'must be a non-empty string')
    const action: Record<string, unknown> = { type: 'replay' }
    const match: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(rest)) (REPLAY_KEYS.includes(k) ? action : match)[k] = x
    // replaying every command (sign-in included) would break every session
    if (Object.keys(match).length === 0) fail(at, 'needs a match (verb, from, text …): replaying every command would break every session')
    const spec = regexps(match)
    const badMatch = checkMatch(spec, at)
    if (badMatch !== null) throw new PolicyError(/is not a match key/.test(badMatch) ? badMatch.replace(/\)$/, '; for the replay itself: name, times, to, file, conn)') : badMatch)
    const badAction = checkAction(action, at)
    if (badAction !== null) throw new PolicyError(badAction)
    const ruleName = `policy: ${typeof name === 'string' ? name.trim() : `replay${Array.isArray(v) && list.length > 1 ? ` #${i + 1}` : ''}`}`
    if (names.has(ruleName)) fail(`${at}.name`, `"${ruleName}" is used by an earlier replay entry`)
    names.add(ruleName)
    return { name: ruleName, match: spec as MatchSpec, action: action as unknown as ReplayAction }
  })
}
