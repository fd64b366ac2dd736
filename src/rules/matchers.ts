/**
 * Declarative matches (MatchSpec): checked once when a rule loads, then compiled to a plain
 * function so that matching a command is a few comparisons. Globs and word lists become regular
 * expressions at compile time.
 */
import type { CommandView, MatchSpec, Pattern } from './rule.js'

const SIDES = new Set(['client', 'server'])
const ROLES = new Set(['DS', 'NS', 'SB', '?'])
const TRANSPORTS = new Set(['tcp', 'http'])
const KEYS = new Set([
  'verb', 'from', 'role', 'transport', 'dialect', 'account', 'contact', 'contentType', 'payloadKind',
  'text', 'words', 'fileName', 'fileTransfer', 'fields', 'not', 'any',
])

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** `*@example.com` → /^.*@example\.com$/i */
export function globToRegExp(glob: string): RegExp {
  const body = glob.split('').map((ch) => ch === '*' ? '.*' : ch === '?' ? '.' : escapeRegExp(ch)).join('')
  return new RegExp(`^${body}$`, 'is')
}

/** Whole words, case-insensitive, in any script: letters and digits around a word do not count as a boundary. */
export function wordsRegExp(words: readonly string[], flags = 'iu'): RegExp {
  const alts = words.map((w) => escapeRegExp(w.trim())).filter((w) => w !== '').sort((a, b) => b.length - a.length)
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alts.join('|')})(?![\\p{L}\\p{N}_])`, flags)
}

type Test = (value: string) => boolean

function patternTest(p: Pattern, kind: 'glob' | 'substring'): Test {
  const list = typeof p === 'string' || p instanceof RegExp ? [p] : p
  const tests: Test[] = list.map((entry) => {
    if (entry instanceof RegExp) {
      // a /g or /y expression keeps state between calls; compare with a stateless copy
      const re = entry.global || entry.sticky ? new RegExp(entry.source, entry.flags.replace(/[gy]/g, '')) : entry
      return (v: string) => re.test(v)
    }
    if (kind === 'substring') {
      const needle = entry.toLowerCase()
      return (v: string) => v.toLowerCase().includes(needle)
    }
    if (!/[*?]/.test(entry)) {
      const exact = entry.toLowerCase()
      return (v: string) => v.toLowerCase() === exact
    }
    const re = globToRegExp(entry)
    return (v: string) => re.test(v)
  })
  return tests.length === 1 ? tests[0]! : (v: string) => tests.some((t) => t(v))
}

const oneOf = (v: string | readonly string[], upper = false): Set<string> =>
  new Set((typeof v === 'string' ? [v] : v).map((s) => upper ? s.toUpperCase() : s))

type SyncTest = (c: CommandView) => boolean

/** Compile a checked MatchSpec into a test. */
export function compileMatch(spec: MatchSpec): SyncTest {
  const tests: SyncTest[] = []
  if (spec.verb !== undefined) {
    const verbs = oneOf(spec.verb, true)
    tests.push((c) => verbs.has(c.verb.toUpperCase()))
  }
  if (spec.from !== undefined) { const from = spec.from; tests.push((c) => c.from === from) }
  if (spec.role !== undefined) { const roles = oneOf(spec.role); tests.push((c) => roles.has(c.role)) }
  if (spec.transport !== undefined) { const t = spec.transport; tests.push((c) => c.transport === t) }
  if (spec.dialect !== undefined) {
    const d = spec.dialect
    if (typeof d === 'number') tests.push((c) => c.dialect === d)
    else {
      const min = d.min ?? -Infinity, max = d.max ?? Infinity
      tests.push((c) => c.dialect !== null && c.dialect >= min && c.dialect <= max)
    }
  }
  if (spec.account !== undefined) { const t = patternTest(spec.account, 'glob'); tests.push((c) => c.account !== null && t(c.account)) }
  if (spec.contact !== undefined) { const t = patternTest(spec.contact, 'glob'); tests.push((c) => c.contacts.some(t)) }
  if (spec.contentType !== undefined) { const t = patternTest(spec.contentType, 'glob'); tests.push((c) => c.contentType !== null && t(c.contentType)) }
  if (spec.payloadKind !== undefined) { const kinds = oneOf(spec.payloadKind); tests.push((c) => c.payload !== null && kinds.has(c.payload.kind)) }
  if (spec.text !== undefined) { const t = patternTest(spec.text, 'substring'); tests.push((c) => c.text !== null && t(c.text)) }
  if (spec.words !== undefined) { const re = wordsRegExp(spec.words); tests.push((c) => c.text !== null && re.test(c.text)) }
  if (spec.fileName !== undefined) { const t = patternTest(spec.fileName, 'glob'); tests.push((c) => c.fileNames.some(t)) }
  if (spec.fileTransfer !== undefined) { const want = spec.fileTransfer; tests.push((c) => c.fileTransfer === want) }
  if (spec.fields !== undefined) {
    const entries = Object.entries(spec.fields)
    tests.push((c) => entries.every(([k, v]) => c.fields[k] === v))
  }
  if (spec.not !== undefined) { const not = compileMatch(spec.not); tests.push((c) => !not(c)) }
  if (spec.any !== undefined) {
    const any = spec.any.map(compileMatch)
    tests.push((c) => any.some((t) => t(c)))
  }
  if (tests.length === 0) return () => true
  if (tests.length === 1) return tests[0]!
  return (c) => {
    for (const t of tests) if (!t(c)) return false
    return true
  }
}

const isStringList = (v: unknown): v is readonly string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
const describeValue = (v: unknown): string => v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? `"${v}"` : typeof v

function checkPattern(v: unknown, at: string): string | null {
  const list: unknown[] = Array.isArray(v) ? v : [v]
  if (list.length === 0) return `${at} is an empty list`
  for (const e of list) if (typeof e !== 'string' && !(e instanceof RegExp)) return `${at} must be a string, a RegExp or a list of them, not ${describeValue(e)}`
  return null
}

function checkOneOf(v: unknown, at: string, allowed: Set<string> | null): string | null {
  const list = typeof v === 'string' ? [v] : isStringList(v) ? v : null
  if (list === null || list.length === 0) return `${at} must be a string or a list of strings, not ${describeValue(v)}`
  if (allowed !== null) for (const s of list) if (!allowed.has(s)) return `${at}: "${s}" is not one of ${[...allowed].join(', ')}`
  return null
}

/** The first thing wrong with a declarative match, as "match.key: problem", or null. */
export function checkMatch(spec: unknown, at = 'match'): string | null {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return `${at} must be an object or a function, not ${describeValue(spec)}`
  const s = spec as Record<string, unknown>
  for (const key of Object.keys(s)) {
    if (!KEYS.has(key)) return `${at}.${key} is not a match key (known: ${[...KEYS].join(', ')})`
    const v = s[key]
    if (v === undefined) continue
    const here = `${at}.${key}`
    let problem: string | null = null
    switch (key) {
      case 'verb': problem = checkOneOf(v, here, null); break
      case 'from': problem = typeof v === 'string' && SIDES.has(v) ? null : `${here} must be "client" or "server", not ${describeValue(v)}`; break
      case 'role': problem = checkOneOf(v, here, ROLES); break
      case 'transport': problem = typeof v === 'string' && TRANSPORTS.has(v) ? null : `${here} must be "tcp" or "http", not ${describeValue(v)}`; break
      case 'payloadKind': problem = checkOneOf(v, here, null); break
      case 'dialect':
        if (typeof v === 'number') problem = Number.isInteger(v) ? null : `${here} must be a whole number`
        else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          const r = v as Record<string, unknown>
          for (const k of Object.keys(r)) {
            if (k !== 'min' && k !== 'max') { problem = `${here}.${k} is not min or max`; break }
            if (typeof r[k] !== 'number') { problem = `${here}.${k} must be a number`; break }
          }
        } else problem = `${here} must be a number or { min, max }`
        break
      case 'account': case 'contact': case 'contentType': case 'text': case 'fileName':
        problem = checkPattern(v, here)
        break
      case 'words':
        problem = isStringList(v) && v.some((w) => w.trim() !== '') ? null : `${here} must be a list of words`
        break
      case 'fileTransfer': problem = typeof v === 'boolean' ? null : `${here} must be true or false`; break
      case 'fields':
        if (v === null || typeof v !== 'object' || Array.isArray(v)) problem = `${here} must be an object of field values`
        else for (const [k, fv] of Object.entries(v)) {
          if (fv !== null && !['string', 'number', 'boolean'].includes(typeof fv)) { problem = `${here}.${k} must be a string, number, boolean or null`; break }
        }
        break
      case 'not': problem = checkMatch(v, here); break
      case 'any':
        if (!Array.isArray(v) || v.length === 0) problem = `${here} must be a non-empty list of matches`
        else for (let i = 0; i < v.length && problem === null; i++) problem = checkMatch(v[i], `${here}[${i}]`)
        break
    }
    if (problem !== null) return problem
  }
  return null
}
