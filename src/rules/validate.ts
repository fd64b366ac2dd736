/**
 * Rule validation when rules load: every problem is reported as one line naming the file, the
 * rule and what is wrong (`rules.ts: rule "no exe" (#2): action.code must be …`), so a bad
 * rule file is refused as a whole before any command meets it.
 */
import { MsnscopeError } from '../errors.js'
import { MAX_REPLAY_TIMES } from '../replay/inject.js'
import { checkMatch, compileMatch } from './matchers.js'
import type { LoadedRule, MatchFunction, MatchSpec, Rule } from './rule.js'

const RULE_KEYS = new Set(['name', 'match', 'action', 'times', 'description'])
const SHORT_ACTIONS = new Set(['pass', 'block', 'reject', 'close'])
const ACTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  pass: [], block: ['answer'], reject: ['code', 'status', 'close'], close: [], tag: ['tags'], log: ['message'],
  rewrite: ['verb', 'args', 'text', 'mask', 'headers', 'payload'], inject: ['to', 'commands', 'original'],
  replay: ['times', 'to', 'file', 'conn'],
}
const VERB = /^[A-Za-z0-9]{3}$/
const TOKEN = /^[^\s]+$/

const kindOf = (v: unknown): string => v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)
const isSide = (v: unknown): boolean => v === 'client' || v === 'server'

function checkInjectCommand(cmd: unknown, at: string): string | null {
  if (typeof cmd === 'string') return /[\r\n]./.test(cmd) || cmd.trim() === '' ? `${at} must be one command line` : null
  if (!isObject(cmd)) return `${at} must be a command line or an object, not ${kindOf(cmd)}`
  if (cmd.to !== undefined && !isSide(cmd.to)) return `${at}.to must be "client" or "server"`
  if ('message' in cmd) {
    for (const k of Object.keys(cmd)) if (!['message', 'from', 'name', 'to'].includes(k)) return `${at}.${k} is not allowed with message (use message, from, name, to)`
    if (typeof cmd.message !== 'string') return `${at}.message must be a string`
    if (cmd.from !== undefined && (typeof cmd.from !== 'string' || !TOKEN.test(cmd.from))) return `${at}.from must be an account without spaces`
    if (cmd.name !== undefined && typeof cmd.name !== 'string') return `${at}.name must be a string`
    return null
  }
  for (const k of Object.keys(cmd)) if (!['verb', 'trId', 'args', 'payload', 'to'].includes(k)) return `${at}.${k} is not a command key (verb, trId, args, payload, to)`
  if (typeof cmd.verb !== 'string' || !VERB.test(cmd.verb)) return `${at}.verb must be three letters or digits, not ${JSON.stringify(cmd.verb)}`
  if (cmd.trId !== undefined && cmd.trId !== null && (typeof cmd.trId !== 'number' || !Number.isInteger(cmd.trId) || cmd.trId < 0 || cmd.trId > 4294967295)) return `${at}.trId must be a whole number 0-4294967295 or null`
  if (cmd.args !== undefined && (!Array.isArray(cmd.args) || !cmd.args.every((a) => typeof a === 'string' && TOKEN.test(a)))) return `${at}.args must be a list of tokens without spaces`
  if (cmd.payload !== undefined && typeof cmd.payload !== 'string' && !Buffer.isBuffer(cmd.payload)) return `${at}.payload must be a string or a Buffer`
  return null
}

/** The first thing wrong with an action, or null. Functions are checked when they run. */
export function checkAction(a: unknown, at = 'action'): string | null {
  if (typeof a === 'function') return null
  if (typeof a === 'string') {
    if (SHORT_ACTIONS.has(a)) return null
    return `${at} "${a}" is not one of pass, block, reject, close${a in ACTION_KEYS ? ` (${a} needs an object: { type: "${a}", … })` : ''}`
  }
  if (!isObject(a)) return `${at} must be an object, an action name or a function, not ${kindOf(a)}`
  const type = a.type
  if (typeof type !== 'string' || !(type in ACTION_KEYS)) return `${at}.type must be one of ${Object.keys(ACTION_KEYS).join(', ')}, not ${JSON.stringify(type)}`
  const allowed = ACTION_KEYS[type]!
  for (const k of Object.keys(a)) if (k !== 'type' && !allowed.includes(k)) return `${at}.${k} is not allowed for ${type}${allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : ''}`
  switch (type) {
    case 'block':
      if (a.answer !== undefined && typeof a.answer !== 'boolean') return `${at}.answer must be true or false`
      return null
    case 'reject':
      if (a.code !== undefined && (typeof a.code !== 'number' || !Number.isInteger(a.code) || a.code < 100 || a.code > 999)) return `${at}.code must be an MSNP error number (100-999)`
      if (a.status !== undefined && (typeof a.status !== 'number' || !Number.isInteger(a.status) || a.status < 400 || a.status > 599)) return `${at}.status must be an HTTP error status (400-599)`
      if (a.close !== undefined && typeof a.close !== 'boolean') return `${at}.close must be true or false`
      return null
    case 'tag':
      if (!Array.isArray(a.tags) || a.tags.length === 0 || !a.tags.every((t) => typeof t === 'string' && t !== '')) return `${at}.tags must be a non-empty list of strings`
      return null
    case 'log':
      if (a.message !== undefined && typeof a.message !== 'string') return `${at}.message must be a string`
      return null
    case 'rewrite': {
      if (!allowed.some((k) => a[k] !== undefined)) return `${at} changes nothing: give verb, args, text, mask, headers or payload`
      if (a.verb !== undefined && (typeof a.verb !== 'string' || !VERB.test(a.verb))) return `${at}.verb must be three letters or digits`
      if (a.args !== undefined && typeof a.args !== 'function' && (!Array.isArray(a.args) || !a.args.every((x) => typeof x === 'string' && TOKEN.test(x)))) return `${at}.args must be a list of tokens without spaces, or a function`
      if (a.text !== undefined && typeof a.text !== 'string' && typeof a.text !== 'function') return `${at}.text must be a string or a function`
      if (a.mask !== undefined && (!Array.isArray(a.mask) || a.mask.length === 0 || !a.mask.every((w) => typeof w === 'string' && w.trim() !== ''))) return `${at}.mask must be a non-empty list of words`
      if (a.payload !== undefined && typeof a.payload !== 'string' && typeof a.payload !== 'function' && !Buffer.isBuffer(a.payload)) return `${at}.payload must be a string, a Buffer or a function`
      if (a.headers !== undefined) {
        if (!isObject(a.headers)) return `${at}.headers must be an object of header values`
        for (const [k, v] of Object.entries(a.headers)) {
          if (!/^[!-9;-~]+$/.test(k)) return `${at}.headers: "${k}" is not a header name`
          if (v !== null && (typeof v !== 'string' || /[\r\n]/.test(v))) return `${at}.headers.${k} must be a one-line string, or null to remove it`
        }
      }
      return null
    }
    case 'inject': {
      if (!isSide(a.to)) return `${at}.to must be "client" or "server"`
      if (a.original !== undefined && a.original !== 'forward' && a.original !== 'drop') return `${at}.original must be "forward" or "drop"`
      const cmds = a.commands
      if (typeof cmds === 'function') return null
      if (cmds === undefined) return `${at}.commands is missing`
      const list = Array.isArray(cmds) ? cmds : [cmds]
      if (list.length === 0) return `${at}.commands is an empty list`
      for (let i = 0; i < list.length; i++) {
        const p = checkInjectCommand(list[i], Array.isArray(cmds) ? `${at}.commands[${i}]` : `${at}.commands`)
        if (p !== null) return p
      }
      return null
    }
    case 'replay':
      if (a.times !== undefined && (typeof a.times !== 'number' || !Number.isInteger(a.times) || a.times < 1 || a.times > MAX_REPLAY_TIMES)) return `${at}.times must be a whole number from 1 to ${MAX_REPLAY_TIMES}, not ${JSON.stringify(a.times)}`
      if (a.to !== undefined && !isSide(a.to)) return `${at}.to must be "client" or "server", not ${JSON.stringify(a.to)}`
      if (a.file !== undefined && (typeof a.file !== 'string' || a.file.trim() === '')) return `${at}.file must be the path of a recording (pcap, pcapng or saved JSONL)`
      if (a.conn !== undefined && (typeof a.conn !== 'string' || !TOKEN.test(a.conn))) return `${at}.conn must be a connection id of the recording (c1, c2 …)`
      if (a.conn !== undefined && a.file === undefined) return `${at}.conn picks a connection of a recording: give file too`
      return null
    default:
      return null
  }
}

/** The first thing wrong with a rule, or null. */
export function checkRule(r: unknown): string | null {
  if (!isObject(r)) return `must be an object with name, match and action, not ${kindOf(r)}`
  for (const k of Object.keys(r)) if (!RULE_KEYS.has(k)) return `${k} is not a rule key (name, match, action, times, description)`
  if (typeof r.name !== 'string' || r.name.trim() === '') return 'name must be a non-empty string'
  if (r.match === undefined) return 'match is missing'
  if (typeof r.match !== 'function') {
    const p = checkMatch(r.match)
    if (p !== null) return p
  }
  if (r.action === undefined) return 'action is missing'
  const p = checkAction(r.action)
  if (p !== null) return p
  if (r.times !== undefined && (typeof r.times !== 'number' || !Number.isInteger(r.times) || r.times < 1)) return 'times must be a whole number of at least 1'
  if (r.description !== undefined && typeof r.description !== 'string') return 'description must be a string'
  return null
}

const ruleLabel = (r: unknown, i: number): string => {
  const name = isObject(r) && typeof r.name === 'string' && r.name.trim() !== '' ? `rule "${r.name}"` : 'rule'
  return `${name} (#${i + 1})`
}

/**
 * Check a file's rules and compile their matches. Throws MsnscopeError (ERULE) naming the file,
 * the rule and the problem.
 */
export function validateRules(value: unknown, source: string): LoadedRule[] {
  if (!Array.isArray(value)) throw new MsnscopeError('ERULE', `${source}: expected a list of rules (export default [ … ]), got ${kindOf(value)}`)
  const names = new Set<string>()
  return value.map((r: unknown, i): LoadedRule => {
    const problem = checkRule(r)
    if (problem !== null) throw new MsnscopeError('ERULE', `${source}: ${ruleLabel(r, i)}: ${problem}`)
    const rule = r as Rule
    if (names.has(rule.name)) throw new MsnscopeError('ERULE', `${source}: ${ruleLabel(r, i)}: the name is used by an earlier rule in this file`)
    names.add(rule.name)
    const test: MatchFunction = typeof rule.match === 'function' ? rule.match : compileMatch(rule.match as MatchSpec)
    return { rule, source, index: i + 1, test }
  })
}
