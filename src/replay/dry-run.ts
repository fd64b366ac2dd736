/**
 * `--dry-run`: what a client replay would do, without connecting. For each planned connection,
 * where it opens; for each command, the TrID it will carry, and what is done afresh (challenge
 * answers, logins, switchboard cookies) with which credentials, redacted. Pure.
 */
import { PRODUCT_KEYS } from '../protocol/challenge.js'
import { commandLine, loginAccount, secretFor, type PlannedConnection, type PlannedSend, type ReplayPlan, type Secret } from './plan.js'

export interface DryRunOptions {
  /** where unreferred connections go, as written by the user */
  to: string
  password?: Secret
  ticket?: Secret
  proofKey?: string
  loginUrl?: string
  productId?: string
  productKey?: string
}

export interface PlanConnectionLine {
  kind: 'plan-connection'
  conn: string
  role: string
  account: string | null
  dialect: string | null
  /** where it connects */
  opens: string
  commands: number
  expected: number
  notes: string[]
}

export interface PlanCommandLine {
  kind: 'plan-command'
  conn: string
  /** position among all the replay's steps, from 1 */
  step: number
  seq: number
  verb: string
  recordedTrId: number | null
  trId: number | null
  /** the command as it will be sent, secrets as *** */
  line: string
  /** what is done afresh for it */
  afresh?: 'cookie' | 'login' | 'challenge'
  note?: string
}

export interface PlanSkippedLine { kind: 'plan-skipped'; conn: string; reason: string }

export type DryRunLine = PlanConnectionLine | PlanCommandLine | PlanSkippedLine

const hidden = (s: string | undefined): string => (s === undefined ? '' : `${s.slice(0, 2)}***`)

function opens(c: PlannedConnection, o: DryRunOptions): string {
  if (c.opener.kind === 'connect') return `connects to ${o.to}`
  const via = c.opener.via === 'RNG' ? 'RNG' : c.role === 'SB' ? 'XFR SB' : 'XFR NS'
  return `connects where the live ${via} on ${c.opener.parent} points`
}

function credentialNote(c: PlannedConnection, s: PlannedSend, o: DryRunOptions): { afresh?: PlanCommandLine['afresh']; note?: string } {
  const account = loginAccount(c) ?? 'the account'
  const password = secretFor(o.password, account)
  const ticket = secretFor(o.ticket, account)
  switch (s.substitution) {
    case 'sb-cookie':
      return { afresh: 'cookie', note: `cookie${s.command.verb === 'ANS' ? ' and session id' : ''} from the live ${c.opener.kind === 'referral' ? c.opener.via : 'referral'}` }
    case 'md5-login':
      return password !== undefined
        ? { afresh: 'login', note: `MD5 response from the live salt and the password of ${account} (${hidden(password)})` }
        : { note: `no --password for ${account}: the recorded (stale) MD5 response is sent` }
    case 'twn-ticket':
    case 'sso-login': {
      const sso = s.substitution === 'sso-login'
      let how: string
      if (ticket !== undefined) how = `ticket from --ticket (${hidden(ticket)})${sso ? (o.proofKey !== undefined ? ', MBI response from --proof-key and the live nonce' : ', the recorded MBI response (no --proof-key)') : ''}`
      else if (o.loginUrl !== undefined) {
        how = password !== undefined
          ? `${sso ? 'RST' : 'Passport 1.4'} login at ${o.loginUrl} as ${account} (password ${hidden(password)})`
          : `no --password for ${account}: cannot log in at ${o.loginUrl}, the recorded (stale) ticket is sent`
      } else return { note: 'the recorded ticket is sent (give --ticket or --login-url when the server checks it)' }
      return { afresh: 'login', note: how }
    }
    case 'qry': {
      const dialect = c.dialect ?? 8
      const pid = o.productId ?? s.command.args[0] ?? ''
      const key = o.productKey ?? PRODUCT_KEYS.get(pid)
      const algo = dialect <= 10 ? 'MD5 rule' : 'MSNP11 algorithm'
      return key === undefined
        ? { afresh: 'challenge', note: `answered afresh to the live CHL, but no key is known for ${pid}: give --product-key` }
        : { afresh: 'challenge', note: `answered afresh to the live CHL (${algo}, product id ${pid})` }
    }
    default: return {}
  }
}

/** The lines of a dry run, in plan order: each connection followed by its commands. */
export function describePlan(plan: ReplayPlan, o: DryRunOptions): DryRunLine[] {
  const out: DryRunLine[] = []
  for (const c of plan.connections) {
    out.push({
      kind: 'plan-connection', conn: c.conn, role: c.role, account: c.account, dialect: c.dialect === null ? null : `MSNP${c.dialect}`,
      opens: opens(c, o), commands: c.sends.length, expected: c.expects.length, notes: c.notes,
    })
    for (const s of c.sends) {
      const line: PlanCommandLine = {
        kind: 'plan-command', conn: c.conn, step: s.order + 1, seq: s.seq, verb: s.command.verb,
        recordedTrId: s.command.trId, trId: s.liveTrId, line: commandLine(s.command, s.liveTrId),
      }
      const n = credentialNote(c, s, o)
      if (n.afresh !== undefined) line.afresh = n.afresh
      if (n.note !== undefined) line.note = n.note
      out.push(line)
    }
  }
  for (const s of plan.skipped) out.push({ kind: 'plan-skipped', conn: s.conn, reason: s.reason })
  return out
}

/** One readable line per entry. */
export function formatDryRunLine(l: DryRunLine): string {
  switch (l.kind) {
    case 'plan-connection':
      return `${l.conn} ${l.role}${l.account !== null ? ` ${l.account}` : ''}${l.dialect !== null ? ` ${l.dialect}` : ''}: ${l.opens}; ${l.commands} commands, ${l.expected} replies expected${l.notes.map((n) => `\n    note: ${n}`).join('')}`
    case 'plan-command': {
      const was = l.recordedTrId !== null && l.recordedTrId !== l.trId ? ` (recorded TrID ${l.recordedTrId})` : ''
      return `  ${String(l.step).padStart(4)}  ${l.line}${was}${l.note !== undefined ? `\n          ${l.afresh !== undefined ? `${l.afresh}: ` : ''}${l.note}` : ''}`
    }
    case 'plan-skipped':
      return `${l.conn}: not replayed: ${l.reason}`
  }
}
