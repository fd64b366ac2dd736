/**
 * Rule actions made concrete: an action (possibly a function of the command, possibly
 * asynchronous) is resolved to plain data — the rewritten bytes, the commands to inject — and
 * that data becomes a Decision. Rewrites recompute payload lengths and keep every MIME header
 * they were not asked to change byte for byte.
 */
import { encodeCommand } from '../protocol/encoder.js'
import type { Side } from '../protocol/events.js'
import { encodeMime, parseMime, rewriteText, scanBlocks, type MimeHeader } from '../protocol/mime.js'
import type { ReplayableCommand } from '../replay/inject.js'
import { freshTrId, serverMsg, textPayload } from './answers.js'
import type { DecisionContext } from './decision.js'
import { wordsRegExp } from './matchers.js'
import type { ConnMemory } from './memory.js'
import type { CommandView, InjectCommand, MaybePromise, RewriteAction, Rule, RuleAction } from './rule.js'
import { checkAction } from './validate.js'

/** Run `f` on a value that may be a promise, staying synchronous when it is not. */
export function chain<T, R>(v: MaybePromise<T>, f: (t: T) => MaybePromise<R>): MaybePromise<R> {
  return v instanceof Promise ? v.then(f) : f(v)
}

export interface InjectItem { to: Side; command: InjectCommand }

/** An action with every function called. */
export type ResolvedAction =
  | { type: 'pass' }
  | { type: 'block'; answer: boolean }
  | { type: 'reject'; code?: number; status?: number; close: boolean }
  | { type: 'rewrite'; bytes: Buffer }
  | { type: 'inject'; items: InjectItem[]; original: 'forward' | 'drop' }
  | { type: 'replay'; times: number; to?: Side; sequence?: readonly ReplayableCommand[] }
  | { type: 'close' }
  | { type: 'tag'; tags: string[] }

/** Replace whole words with asterisks (one per character). */
export function maskWords(text: string, words: readonly string[]): string {
  if (words.length === 0) return text
  return text.replace(wordsRegExp(words, 'giu'), (m) => '*'.repeat([...m].length))
}

/** Set (string) or remove (null) MIME headers of a payload's message block; other bytes are kept. */
export function setHeaders(payload: Buffer, changes: Readonly<Record<string, string | null>>): Buffer {
  const blocks = scanBlocks(payload.toString('latin1'))
  const start = blocks.length > 1 ? blocks[blocks.length - 2]!.bodyStart : 0
  const mime = parseMime(payload.subarray(start))
  let headers: MimeHeader[] = mime.headers.slice()
  for (const [name, value] of Object.entries(changes)) {
    const lower = name.toLowerCase()
    if (value === null) { headers = headers.filter((h) => h[0].toLowerCase() !== lower); continue }
    const i = headers.findIndex((h) => h[0].toLowerCase() === lower)
    if (i < 0) headers.push([name, value])
    else {
      const h = headers[i]!
      headers[i] = h[2] === undefined ? [h[0], value] : [h[0], value, h[2]]
    }
  }
  const encoded = encodeMime(headers, mime.body, mime.end === '' ? '\r\n' : mime.end)
  return start === 0 ? encoded : Buffer.concat([payload.subarray(0, start), encoded])
}

const toBuffer = (v: string | Buffer): Buffer => typeof v === 'string' ? Buffer.from(v, 'utf8') : v

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** The bytes a rewrite action produces for a command. */
export function rewriteBytes(a: RewriteAction, c: CommandView): MaybePromise<Buffer> {
  const args0 = a.args === undefined ? c.args : typeof a.args === 'function' ? a.args(c.args, c) : a.args
  return chain(args0, (args) => {
    const p0: MaybePromise<Buffer | null> = a.payload === undefined || c.payloadRaw === null
      ? c.payloadRaw
      : typeof a.payload === 'function' ? chain(a.payload(c.payloadRaw, c), toBuffer) : toBuffer(a.payload)
    return chain(p0, (p1) => {
      let payload = p1
      if (payload !== null && a.headers !== undefined) payload = setHeaders(payload, a.headers)
      const t0: MaybePromise<string | null> = a.text === undefined || c.text === null ? c.text
        : typeof a.text === 'function' ? a.text(c.text, c) : a.text
      return chain(t0, (text) => {
        if (payload !== null && c.text !== null && text !== null) {
          const masked = a.mask === undefined ? text : maskWords(text, a.mask)
          if (masked !== c.text || a.text !== undefined) payload = rewriteText(payload, masked)
        }
        const verb = a.verb ?? c.verb
        const wire = c.event.command.wire
        const keepWire = verb === c.verb && sameArgs(args, c.args)
        return encodeCommand({
          verb, trId: c.trId, args, payloadRaw: payload,
          ...(wire === undefined ? {} : keepWire ? { wire } : wire.eol !== undefined ? { wire: { eol: wire.eol } } : {}),
        })
      })
    })
  })
}

function normalize(a: RuleAction | string): RuleAction {
  return typeof a === 'string' ? { type: a } as RuleAction : a
}

/**
 * Call an action's functions and return plain data. `sequence` is the recording a replay
 * action's `file` held when the rule loaded.
 */
export function resolveAction(action: Rule['action'], c: CommandView, sequence?: readonly ReplayableCommand[]): MaybePromise<ResolvedAction> {
  const a0 = typeof action === 'function' ? action(c) : action
  return chain(a0, (raw) => {
    const a = normalize(raw)
    switch (a.type) {
      case 'pass': return { type: 'pass' }
      case 'block': return { type: 'block', answer: a.answer !== false }
      case 'reject': return {
        type: 'reject', close: a.close === true,
        ...(a.code !== undefined ? { code: a.code } : {}), ...(a.status !== undefined ? { status: a.status } : {}),
      }
      case 'close': return { type: 'close' }
      case 'tag': return { type: 'tag', tags: [...a.tags] }
      case 'log': return { type: 'tag', tags: [a.message ?? 'log'] }
      case 'rewrite': return chain(rewriteBytes(a, c), (bytes) => ({ type: 'rewrite', bytes }) as ResolvedAction)
      case 'inject': {
        const cmds = typeof a.commands === 'function' ? a.commands(c) : a.commands
        return chain(cmds, (list) => {
          const arr: readonly InjectCommand[] = Array.isArray(list) ? list : [list as InjectCommand]
          const items = arr.map((command) => ({ to: typeof command === 'object' && command.to !== undefined ? command.to : a.to, command }))
          return { type: 'inject', items, original: a.original ?? 'forward' } as ResolvedAction
        })
      }
      case 'replay': {
        if (typeof action === 'function') {
          // a function's result was not there to check when the rule loaded
          const problem = checkAction(a)
          if (problem !== null) throw new Error(problem)
        }
        if (a.file !== undefined && (sequence === undefined || typeof action === 'function')) {
          throw new Error(`action.file ${a.file} is read when the rules load: a replay of a recording must be the rule's action itself, not the result of a function`)
        }
        return { type: 'replay', times: a.times ?? 1, ...(a.to !== undefined ? { to: a.to } : {}), ...(a.file !== undefined && sequence !== undefined ? { sequence } : {}) }
      }
      default: throw new Error(`unknown action type ${JSON.stringify((a as { type?: unknown }).type)}`)
    }
  })
}

/** Verbs a client sends without a TrID. */
const NO_TRID = new Set(['PNG', 'OUT'])

const urlName = (s: string): string => encodeURIComponent(s)

/** Bytes of the commands to inject; TrIDs toward the server are fresh and remembered. */
export function injectBytes(items: readonly InjectItem[], c: CommandView, ctx: DecisionContext, mem: ConnMemory): { to: Side; bytes: Buffer }[] {
  return items.map(({ to, command }) => {
    if (typeof command === 'string') {
      let text = command.replace(/\{trId\}/g, () => String(to === 'server' ? freshTrId(ctx, mem) : 0))
      if (!text.endsWith('\n')) text += '\r\n'
      return { to, bytes: Buffer.from(text, 'utf8') }
    }
    if ('message' in command) {
      const payload = textPayload(command.message)
      if (to === 'server') return { to, bytes: encodeCommand({ verb: 'MSG', trId: freshTrId(ctx, mem), args: ['U'], payloadRaw: payload }) }
      const from = command.from ?? (c.role === 'SB' ? c.contact ?? c.account ?? 'Hotmail' : 'Hotmail')
      const known = mem.participant(from)
      const name = command.name !== undefined ? urlName(command.name) : known?.nameToken ?? (from === 'Hotmail' ? 'Hotmail' : urlName(from))
      return { to, bytes: serverMsg(from, name, payload) }
    }
    const trId = 'trId' in command && command.trId !== undefined ? command.trId
      : to === 'server' && !NO_TRID.has(command.verb.toUpperCase()) ? freshTrId(ctx, mem) : null
    const payload = command.payload === undefined ? null : toBuffer(command.payload)
    return { to, bytes: encodeCommand({ verb: command.verb, trId, args: command.args ?? [], payloadRaw: payload }) }
  })
}
