/**
 * Per-verb field decoding: turns a command's line (verb, direction, TrID, args, dialect) into
 * named, JSON-serialisable fields: the XFR target and cookie, the USR stage, NLN status and
 * capabilities, list memberships, error names. It runs for every command the decoder emits, so
 * each verb maps to one small function (fields/*.ts, by family) and nothing here allocates more
 * than its result. It reads only `args`, never the payload, and never throws: missing or odd
 * arguments just give fewer fields. Unknown verbs decode to {}.
 */
import { describeError } from './error-codes.js'
import type { CommandEvent, Fields } from './events.js'
import type { FieldDecoder } from './fields/common.js'
import { LIST_FIELDS } from './fields/lists.js'
import { MSNP21_FIELDS } from './fields/msnp21.js'
import { PRESENCE_FIELDS } from './fields/presence.js'
import { SESSION_FIELDS } from './fields/session.js'
import { SWITCHBOARD_FIELDS } from './fields/switchboard.js'

const DECODERS: ReadonlyMap<string, FieldDecoder> = new Map([
  ...SESSION_FIELDS, ...LIST_FIELDS, ...PRESENCE_FIELDS, ...SWITCHBOARD_FIELDS, ...MSNP21_FIELDS,
])

/** The verbs with a field decoder (every verb of commands.md except GSB and LKP, which are undocumented). */
export const DECODED_VERBS: ReadonlySet<string> = new Set(DECODERS.keys())

const isDigit = (c: number): boolean => c >= 48 && c <= 57

export function decodeFields(cmd: CommandEvent): Fields {
  let verb = cmd.verb
  const c0 = verb.charCodeAt(0)
  if (isDigit(c0)) {
    // NNN t [len]: an error reply (the decoder only emits three-character verbs)
    return verb.length === 3 && isDigit(verb.charCodeAt(1)) && isDigit(verb.charCodeAt(2))
      ? { error: describeError(Number(verb)) }
      : {}
  }
  if (c0 >= 97) verb = verb.toUpperCase()
  const decode = DECODERS.get(verb)
  return decode === undefined ? {} : decode(cmd)
}
