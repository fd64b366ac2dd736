/**
 * One sentence per rule, for the TUI and for listings: what it acts on and what it does
 * ("Blocks MSG from the client that is a file-transfer invitation, answering as the protocol
 * expects."). A rule's own `description` wins.
 */
import type { MatchSpec, Pattern, Rule, RuleAction } from './rule.js'

const list = (items: readonly string[], joiner = 'or'): string =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} ${joiner} ${items[items.length - 1]}`

const one = (v: string | readonly string[]): string[] => typeof v === 'string' ? [v] : [...v]

function pattern(p: Pattern): string {
  const items = typeof p === 'string' || p instanceof RegExp ? [p] : p
  return list(items.map((x) => x instanceof RegExp ? String(x) : `"${x}"`))
}

function conditions(m: MatchSpec): string[] {
  const out: string[] = []
  if (m.role !== undefined) out.push(`on ${list(one(m.role))} connections`)
  if (m.transport !== undefined) out.push(m.transport === 'http' ? 'through the HTTP gateway' : 'over TCP')
  if (m.dialect !== undefined) {
    const d = m.dialect
    out.push(typeof d === 'number' ? `in MSNP${d}` : d.min !== undefined && d.max !== undefined ? `in MSNP${d.min} to MSNP${d.max}` : d.min !== undefined ? `in MSNP${d.min} or later` : `in MSNP${d.max ?? '?'} or earlier`)
  }
  if (m.account !== undefined) out.push(`signed in as ${pattern(m.account)}`)
  if (m.contact !== undefined) out.push(`with ${pattern(m.contact)}`)
  if (m.contentType !== undefined) out.push(`of content type ${pattern(m.contentType)}`)
  if (m.payloadKind !== undefined) out.push(`carrying a ${list(one(m.payloadKind))} payload`)
  if (m.fileTransfer === true) out.push('that is a file-transfer invitation')
  if (m.fileTransfer === false) out.push('that is not a file-transfer invitation')
  if (m.fileName !== undefined) out.push(`offering a file named ${pattern(m.fileName)}`)
  if (m.text !== undefined) out.push(`whose text contains ${pattern(m.text)}`)
  if (m.words !== undefined) out.push(`whose text has the word${m.words.length > 1 ? 's' : ''} ${list(m.words.map((w) => `"${w}"`))}`)
  if (m.fields !== undefined) out.push(`with ${list(Object.entries(m.fields).map(([k, v]) => `${k} ${JSON.stringify(v)}`), 'and')}`)
  if (m.any !== undefined) out.push(`(${list(m.any.map((a) => subject(a)), 'or')})`)
  if (m.not !== undefined) out.push(`unless it is ${subject(m.not)}`)
  return out
}

/** "MSG from the client whose text contains "x"" */
function subject(m: MatchSpec): string {
  const verbs = m.verb === undefined ? 'any command' : list(one(m.verb).map((v) => v.toUpperCase()))
  const from = m.from === undefined ? '' : ` from the ${m.from}`
  const rest = conditions(m)
  return `${verbs}${from}${rest.length > 0 ? ' ' + list(rest, 'and') : ''}`
}

const timesWord = (n: number): string => n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`

function actionPhrase(a: RuleAction | string): [verb: string, after: string] {
  const act = typeof a === 'string' ? { type: a } as RuleAction : a
  switch (act.type) {
    case 'pass': return ['Lets through', '']
    case 'block': return act.answer === false ? ['Drops', ' without any answer'] : ['Blocks', ', answering as the protocol expects (NAK, decline, login error)']
    case 'reject': return ['Rejects', act.status !== undefined ? ` with HTTP ${act.status} on the gateway${act.code !== undefined ? ` and error ${act.code}` : ''}` : act.code !== undefined ? ` with error ${act.code}` : ' with the error a server would send']
    case 'rewrite': {
      const parts: string[] = []
      if (act.verb !== undefined) parts.push(`the verb to ${act.verb}`)
      if (act.args !== undefined) parts.push(typeof act.args === 'function' ? 'the arguments' : `the arguments to "${act.args.join(' ')}"`)
      if (act.text !== undefined) parts.push(typeof act.text === 'function' ? 'the message text' : `the message text to "${act.text}"`)
      if (act.mask !== undefined) parts.push(`masking ${list(act.mask.map((w) => `"${w}"`))}`)
      if (act.headers !== undefined) parts.push(`the headers ${list(Object.keys(act.headers))}`)
      if (act.payload !== undefined) parts.push('the payload')
      return ['Rewrites', ` (${list(parts, 'and')})`]
    }
    case 'inject': return [`Sends extra commands to the ${act.to} on`, act.original === 'drop' ? ' instead of it' : '']
    case 'replay': {
      const times = timesWord(act.times ?? 1)
      const to = act.to === undefined ? '' : ` to the ${act.to}`
      if (act.file === undefined) return ['Forwards', ` and replays it ${times}${to}`]
      const conn = act.conn === undefined ? '' : ` (connection ${act.conn})`
      return ['Forwards', `, then sends the client commands recorded in ${act.file}${conn} ${times}${to}`]
    }
    case 'close': return ['Closes the connection on', '']
    case 'tag': return ['Tags', ` as ${list(act.tags.map((t) => `"${t}"`), 'and')}`]
    case 'log': return ['Logs', act.message !== undefined ? ` as "${act.message}"` : '']
    default: return ['Acts on', '']
  }
}

/** One sentence: what the rule acts on and what it does. */
export function describeRule(rule: Rule): string {
  if (rule.description !== undefined && rule.description.trim() !== '') return rule.description.trim()
  const what = typeof rule.match === 'function' ? 'commands that pass its own test' : subject(rule.match)
  const times = rule.times === undefined ? '' : ` (at most ${rule.times} time${rule.times === 1 ? '' : 's'})`
  if (typeof rule.action === 'function') return `Decides in code what to do with ${what}${times}.`
  const [verb, after] = actionPhrase(rule.action)
  return `${verb} ${what}${after}${times}.`
}
