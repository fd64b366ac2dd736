/**
 * The one colour scheme of msnscope: console lines (chalk) and the dashboard (blessed) colour a
 * verb by its family and mark what rules did in the same way, so a user who knows one knows the
 * other. Only the 8 basic colours plus gray, which every terminal shows.
 *
 * A line is built as segments (text + style) once; console.ts renders them with chalk and the
 * dashboard with blessed tags.
 */
import type { Action, ScopeEventKind } from '../events.js'

export type ColorName = 'black' | 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'white' | 'gray'

export interface Style {
  fg?: ColorName
  bg?: ColorName
  bold?: boolean
  inverse?: boolean
}

export interface Segment extends Style {
  text: string
}

export type VerbFamily = 'auth' | 'redirect' | 'switchboard' | 'presence' | 'contacts' | 'message' | 'keepalive' | 'error' | 'other'

const FAMILIES: Record<Exclude<VerbFamily, 'error' | 'other'>, string[]> = {
  auth: ['VER', 'CVR', 'CVQ', 'INF', 'USR', 'CHL', 'QRY', 'GCF', 'SBS', 'URL', 'OUT'],
  redirect: ['XFR', 'RNG'],
  switchboard: ['CAL', 'ANS', 'IRO', 'JOI', 'BYE'],
  presence: ['CHG', 'ILN', 'NLN', 'FLN', 'UUX', 'UBX', 'UUN', 'UBN', 'PRP', 'BPR', 'REA', 'SBP', 'NFY', 'PUT', 'DEL', 'GET'],
  contacts: ['SYN', 'GTC', 'BLP', 'LST', 'LSG', 'ADD', 'ADC', 'REM', 'ADG', 'RMG', 'REG', 'GSB', 'ADL', 'RML', 'FQY', 'LKP', 'FND', 'SND', 'SDC'],
  message: ['MSG', 'SDG', 'UUM', 'UBM', 'NOT', 'IPG', 'PAG', 'PGD', 'ACK', 'NAK', 'IMS', 'VAS', 'FSL'],
  keepalive: ['PNG', 'QNG'],
}

const VERB_FAMILY = new Map<string, VerbFamily>()
for (const [family, verbs] of Object.entries(FAMILIES)) for (const v of verbs) VERB_FAMILY.set(v, family as VerbFamily)

export function verbFamily(verb: string): VerbFamily {
  if (/^\d{3}$/.test(verb)) return 'error'
  return VERB_FAMILY.get(verb.toUpperCase()) ?? 'other'
}

export const FAMILY_STYLE: Record<VerbFamily, Style> = {
  auth: { fg: 'cyan' },
  redirect: { fg: 'blue', bold: true },
  switchboard: { fg: 'blue' },
  presence: { fg: 'green' },
  contacts: { fg: 'yellow' },
  message: { fg: 'magenta', bold: true },
  keepalive: { fg: 'gray' },
  error: { fg: 'red', bold: true },
  other: { fg: 'white' },
}

/** Events that are not commands are labelled by kind, in these styles. */
export const KIND_LABEL: Record<Exclude<ScopeEventKind, 'command'>, { label: string; style: Style }> = {
  'malformed': { label: 'BAD', style: { fg: 'red', bold: true } },
  'session-open': { label: 'OPEN', style: { fg: 'blue' } },
  'session-close': { label: 'CLOSE', style: { fg: 'blue' } },
  'gap': { label: 'GAP', style: { fg: 'yellow', bold: true } },
  'http': { label: 'HTTP', style: { fg: 'cyan' } },
  'redirect': { label: 'REDIR', style: { fg: 'blue', bold: true } },
  'limit': { label: 'LIMIT', style: { fg: 'red', bold: true } },
  'rule-error': { label: 'RULE!', style: { fg: 'red', bold: true } },
  'replay-diff': { label: 'DIFF', style: { fg: 'yellow', bold: true } },
  'unmatched': { label: 'UNMAT', style: { fg: 'yellow' } },
  'stats': { label: 'STATS', style: { fg: 'gray' } },
}

/** How a rule's action is marked on a line (absent for `pass`). */
export const ACTION_MARK: Record<Exclude<Action, 'pass'>, { label: string; style: Style }> = {
  block: { label: 'BLOCKED', style: { fg: 'white', bg: 'red', bold: true } },
  reject: { label: 'REJECTED', style: { fg: 'white', bg: 'red', bold: true } },
  rewrite: { label: 'REWRITTEN', style: { fg: 'black', bg: 'yellow', bold: true } },
  inject: { label: 'INJECTED', style: { fg: 'black', bg: 'cyan', bold: true } },
  close: { label: 'CLOSED', style: { fg: 'white', bg: 'red', bold: true } },
  replay: { label: 'REPLAYED', style: { fg: 'black', bg: 'blue' } },
  tag: { label: 'TAG', style: { fg: 'black', bg: 'green' } },
}

/** Fixed parts of a line. */
export const PART_STYLE = {
  time: { fg: 'gray' },
  conn: { fg: 'white', bold: true },
  role: { fg: 'cyan' },
  toServer: { fg: 'green', bold: true },
  toClient: { fg: 'yellow', bold: true },
  trId: { fg: 'gray' },
  args: {},
  summary: { fg: 'white' },
  held: { fg: 'black', bg: 'yellow', bold: true },
  marked: { fg: 'cyan', bold: true },
} satisfies Record<string, Style>
