/**
 * The filter language, in the spirit of mitmproxy's: `~verb MSG & ~from client`, `!~role NS`,
 * `(~p2p | ~ct text/x-msmsgsinvite) & ~account alice@example.com`, `hello` (free text).
 * Used by the dashboard (view, search, intercept) and usable by rules.
 *
 * Pure: parsing never throws anything but FilterError, whose position and `expected` say what
 * was wrong, so a prompt can explain an invalid filter while it is being typed. Matching never
 * throws at all.
 *
 * Grammar (`!` binds tightest, then `&`, then `|`; two terms side by side mean `&`):
 *   expr    := and ('|' and)*
 *   and     := unary ('&'? unary)*
 *   unary   := '!' unary | '(' expr ')' | '~'name [value] | value
 *   value   := word | "quoted" | 'quoted'
 */
import type { ScopeEvent, ScopeEventKind } from './events.js'
import { bareContentType, eventDetailText, eventPayload, header, isErrorVerb, messageSender, P2P_CONTENT_TYPE } from './event-view.js'

/** What a match may ask of the place it runs in (the dashboard knows marks and held commands). */
export interface FilterContext {
  marked?(ev: ScopeEvent): boolean
  held?(ev: ScopeEvent): boolean
}

export interface EventFilter {
  /** the text it was parsed from */
  readonly source: string
  match(ev: ScopeEvent, ctx?: FilterContext): boolean
}

export class FilterError extends Error {
  override name = 'FilterError'
  constructor(
    /** 0-based character offset in the filter text */
    readonly position: number,
    /** what would have been valid there */
    readonly expected: string,
    message: string,
  ) { super(message) }
}

type Pred = (ev: ScopeEvent, ctx: FilterContext | undefined) => boolean

interface FilterDef {
  help: string
  /** the value it takes, described for error messages; absent: takes none */
  value?: string
  make(value: string, at: number): Pred
}

const KINDS: readonly ScopeEventKind[] = ['command', 'malformed', 'session-open', 'session-close', 'gap', 'http', 'redirect', 'limit', 'rule-error', 'replay-diff', 'unmatched', 'stats']
const ACTIONS = ['pass', 'block', 'reject', 'rewrite', 'inject', 'close', 'replay', 'tag']
const lc = (s: string): string => s.toLowerCase()

function choice(name: string, value: string, at: number, options: readonly string[]): string {
  const v = lc(value)
  const hit = options.find((o) => lc(o) === v)
  if (hit === undefined) throw new FilterError(at, options.join(', '), `~${name} takes one of ${options.join(', ')}, not "${value}"`)
  return hit
}

/** Message text, or the whole payload as text when it is not a message. */
function payloadText(ev: ScopeEvent): string {
  if (ev.kind !== 'command' || ev.command.payloadRaw === null) return ''
  const v = eventPayload(ev)
  return v.text ?? (v.slp !== null ? v.slp.startLine : '')
}

const FILTERS: Record<string, FilterDef> = {
  verb: { help: 'the command verb (MSG, USR, 911 …)', value: 'a verb such as MSG', make: (v) => { const u = v.toUpperCase(); return (ev) => ev.kind === 'command' && ev.command.verb.toUpperCase() === u } },
  from: { help: 'who sent it: client or server', value: 'client or server', make: (v, at) => {
    const side = choice('from', v === 'c' ? 'client' : v === 's' ? 'server' : v, at, ['client', 'server'])
    return (ev) => (ev.kind === 'command' ? ev.command.from : 'from' in ev ? ev.from : undefined) === side
  } },
  role: { help: 'connection role: DS, NS, SB or ?', value: 'DS, NS, SB or ?', make: (v, at) => { const r = choice('role', v, at, ['DS', 'NS', 'SB', '?']); return (ev) => ev.role === r } },
  account: { help: 'account of the connection or sender (substring)', value: 'an account', make: (v) => {
    const want = lc(v)
    return (ev) => (ev.account != null && lc(ev.account).includes(want)) || (ev.kind === 'command' && lc(messageSender(ev) ?? '').includes(want))
  } },
  ct: { help: 'payload content type (substring)', value: 'a content type such as text/plain', make: (v) => {
    const want = lc(v)
    return (ev) => { const ct = eventPayload(ev).contentType; return ct !== null && lc(ct).includes(want) }
  } },
  p2p: { help: 'P2P (application/x-msnmsgrp2p) messages', make: () => (ev) => bareContentType(eventPayload(ev).contentType) === P2P_CONTENT_TYPE },
  err: { help: 'errors: numeric replies, malformed input, rule errors, limits', make: () => (ev) => {
    switch (ev.kind) {
      case 'command': return isErrorVerb(ev.command.verb)
      case 'malformed': case 'rule-error': case 'limit': case 'replay-diff': case 'unmatched': return true
      default: return false
    }
  } },
  blocked: { help: 'blocked or rejected by a rule', make: () => (ev) => ev.kind === 'command' && (ev.action === 'block' || ev.action === 'reject') },
  rewritten: { help: 'rewritten by a rule', make: () => (ev) => ev.kind === 'command' && ev.action === 'rewrite' },
  action: { help: 'rule action: pass, block, reject, rewrite, inject, close, replay, tag', value: 'an action', make: (v, at) => { const a = choice('action', v, at, ACTIONS); return (ev) => ev.kind === 'command' && ev.action === a } },
  rule: { help: 'name of the rule that acted (substring)', value: 'a rule name', make: (v) => { const w = lc(v); return (ev) => ev.kind === 'command' && ev.rule !== undefined && lc(ev.rule).includes(w) } },
  conn: { help: 'connection id (c3)', value: 'a connection such as c3', make: (v) => { const c = lc(v); return (ev) => lc(ev.conn) === c } },
  kind: { help: `event kind: ${KINDS.join(', ')}`, value: 'an event kind', make: (v, at) => { const k = choice('kind', v, at, KINDS); return (ev) => ev.kind === k } },
  text: { help: 'message text (substring)', value: 'some text', make: (v) => { const w = lc(v); return (ev) => lc(payloadText(ev)).includes(w) } },
  h: { help: 'a payload header, name or value (substring)', value: 'a header name or value', make: (v) => {
    const w = lc(v)
    return (ev) => eventPayload(ev).headers.some(([k, val]) => lc(k).includes(w) || lc(val).includes(w))
  } },
  trid: { help: 'transaction id', value: 'a number', make: (v, at) => {
    if (!/^\d+$/.test(v)) throw new FilterError(at, 'a number', `~trid takes a number, not "${v}"`)
    const n = Number(v)
    return (ev) => ev.kind === 'command' && ev.command.trId === n
  } },
  dialect: { help: 'protocol dialect (8 or MSNP8)', value: 'a dialect such as MSNP8', make: (v, at) => {
    const m = /^(?:msnp)?(\d+)$/i.exec(v)
    if (m === null) throw new FilterError(at, 'a dialect such as MSNP8', `~dialect takes a dialect such as MSNP8, not "${v}"`)
    const n = Number(m[1])
    return (ev) => (ev.dialect ?? (ev.kind === 'command' ? ev.command.dialect : null)) === n
  } },
  gw: { help: 'HTTP gateway traffic', make: () => (ev) => ev.transport === 'http' },
  payload: { help: 'commands that carry a payload', make: () => (ev) => ev.kind === 'command' && ev.command.payloadLength !== null },
  marked: { help: 'events you marked', make: () => (ev, ctx) => ctx?.marked?.(ev) ?? false },
  held: { help: 'commands held by intercept', make: () => (ev, ctx) => ctx?.held?.(ev) ?? false },
  all: { help: 'every event', make: () => () => true },
}

/** `[name, help]` for the help screen. */
export const FILTER_HELP: ReadonlyArray<readonly [string, string]> = Object.entries(FILTERS).map(([k, d]) => [`~${k}${d.value !== undefined ? ` ${d.value.replace(/^(a|an|some) /, '').split(' ')[0]}` : ''}`, d.help])

function freeText(value: string): Pred {
  const w = lc(value)
  return (ev) => {
    if (ev.kind === 'command') {
      const c = ev.command
      if (lc(c.verb).includes(w)) return true
      for (const a of c.args) if (lc(a).includes(w)) return true
      return lc(payloadText(ev)).includes(w) || (header(eventPayload(ev).headers, 'TypingUser') ?? '').toLowerCase().includes(w)
    }
    return ev.kind.includes(w) || lc(eventDetailText(ev)).includes(w)
  }
}

interface Token { type: '(' | ')' | '&' | '|' | '!' | 'filter' | 'word' | 'end'; text: string; at: number }

const WORD_END = /[\s()&|]/

function tokenize(src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const ch = src[i]!
    if (/\s/.test(ch)) { i++; continue }
    if (ch === '(' || ch === ')' || ch === '&' || ch === '|' || ch === '!') { out.push({ type: ch, text: ch, at: i }); i++; continue }
    if (ch === '"' || ch === "'") {
      let j = i + 1
      let text = ''
      while (j < src.length && src[j] !== ch) {
        if (src[j] === '\\' && j + 1 < src.length) j++
        text += src[j]
        j++
      }
      if (j >= src.length) throw new FilterError(src.length, `a closing ${ch}`, `unterminated quote: expected a closing ${ch} for the one at ${i + 1}`)
      out.push({ type: 'word', text, at: i })
      i = j + 1
      continue
    }
    let j = i
    while (j < src.length && !WORD_END.test(src[j]!)) j++
    const text = src.slice(i, j)
    out.push({ type: ch === '~' ? 'filter' : 'word', text: ch === '~' ? text.slice(1) : text, at: i })
    i = j
  }
  out.push({ type: 'end', text: '', at: src.length })
  return out
}

const FILTER_NAMES = Object.keys(FILTERS).map((k) => `~${k}`).join(', ')

/** The known filter name nearest to a misspelt one (prefix, or at most two edits away). */
function closest(name: string): string | null {
  const names = Object.keys(FILTERS)
  const prefixed = names.find((n) => n.startsWith(name) || name.startsWith(n))
  if (prefixed !== undefined) return prefixed
  let best: string | null = null
  let bestD = 3
  for (const n of names) {
    const d = editDistance(name, n)
    if (d < bestD) { bestD = d; best = n }
  }
  return best
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)))
    prev = cur
  }
  return prev[b.length]!
}

class Parser {
  #i = 0
  constructor(readonly tokens: Token[]) {}
  get #tok(): Token { return this.tokens[this.#i]! }

  parse(): Pred {
    const p = this.#or()
    const t = this.#tok
    if (t.type !== 'end') {
      throw new FilterError(t.at, t.type === ')' ? 'an operator or the end' : 'an operator', t.type === ')' ? `unmatched ) at ${t.at + 1}` : `unexpected "${t.text}" at ${t.at + 1}`)
    }
    return p
  }

  #or(): Pred {
    let left = this.#and()
    while (this.#tok.type === '|') {
      this.#i++
      const right = this.#and()
      const l = left
      left = (ev, ctx) => l(ev, ctx) || right(ev, ctx)
    }
    return left
  }

  #and(): Pred {
    let left = this.#unary()
    for (;;) {
      const t = this.#tok
      if (t.type === '&') this.#i++
      else if (t.type !== '!' && t.type !== '(' && t.type !== 'filter' && t.type !== 'word') break
      const right = this.#unary()
      const l = left
      left = (ev, ctx) => l(ev, ctx) && right(ev, ctx)
    }
    return left
  }

  #unary(): Pred {
    const t = this.#tok
    switch (t.type) {
      case '!': {
        this.#i++
        const inner = this.#unary()
        return (ev, ctx) => !inner(ev, ctx)
      }
      case '(': {
        this.#i++
        const inner = this.#or()
        const close = this.#tok
        if (close.type !== ')') throw new FilterError(close.at, ')', `expected ) to close the ( at ${t.at + 1}${close.type === 'end' ? '' : `, found "${close.text}"`}`)
        this.#i++
        return inner
      }
      case 'filter': {
        this.#i++
        const def = Object.hasOwn(FILTERS, t.text.toLowerCase()) ? FILTERS[t.text.toLowerCase()] : undefined
        if (def === undefined) {
          if (t.text === '') throw new FilterError(t.at, FILTER_NAMES, `expected a filter name after ~ at ${t.at + 1}, such as ~verb or ~from (? lists them)`)
          const near = closest(t.text.toLowerCase())
          throw new FilterError(t.at, FILTER_NAMES, `unknown filter ~${t.text} at ${t.at + 1}${near !== null ? ` (did you mean ~${near}?)` : ' (? lists the filters)'}`)
        }
        if (def.value === undefined) return def.make('', t.at)
        const v = this.#tok
        if (v.type !== 'word') throw new FilterError(v.at, def.value, `expected ${def.value} after ~${t.text} at ${v.at + 1}`)
        this.#i++
        return def.make(v.text, v.at)
      }
      case 'word':
        this.#i++
        return freeText(t.text)
      case 'end':
        throw new FilterError(t.at, 'a filter (~verb MSG), some text, ! or (', `expected a filter, text, ! or ( at ${t.at + 1}, found the end`)
      default:
        throw new FilterError(t.at, 'a filter (~verb MSG), some text, ! or (', `expected a filter, text, ! or ( at ${t.at + 1}, found "${t.text}"`)
    }
  }
}

/** Parse a filter. Empty text gives null (no filter). Throws FilterError. */
export function parseFilter(source: string): EventFilter | null {
  if (source.trim() === '') return null
  const pred = new Parser(tokenize(source)).parse()
  return { source, match: (ev, ctx) => { try { return pred(ev, ctx) } catch { return false } } }
}

/** The error a filter text has, or null when it is valid (or empty). */
export function checkFilter(source: string): FilterError | null {
  try {
    parseFilter(source)
    return null
  } catch (err) {
    if (err instanceof FilterError) return err
    throw err
  }
}
