/**
 * One connection of a client replay as it goes (client.ts runs them), and the values of the live
 * session that recorded commands need in place of the recorded ones: the dialect, login salts,
 * policies and nonces, switchboard cookies, tickets.
 */
import { randomBytes } from 'node:crypto'
import type net from 'node:net'
import { mbiKeyResponse, md5LoginResponse } from '../protocol/challenge.js'
import { parseDialect, type DialectState, type MsnpDecoder } from '../protocol/decoder.js'
import type { CommandEvent } from '../protocol/events.js'
import type { LoginResult } from './login.js'
import { loginAccount, secretFor, type PlannedConnection, type PlannedSend, type Secret } from './plan.js'

export type ConnPhase = 'waiting' | 'connecting' | 'open' | 'complete' | 'closed'

export interface LiveConn {
  plan: PlannedConnection
  phase: ConnPhase
  id: string | null
  socket: net.Socket | null
  dialect: DialectState
  fromServer: MsnpDecoder | null
  fromClient: MsnpDecoder | null
  next: number
  /** per expect: 0 waiting, 1 matched, 2 given up */
  expect: Uint8Array
  liveTrIds: (number | null)[]
  /** live TrID -> send index */
  bySent: Map<number, number>
  nextTrId: number
  /** sends answered ahead of their turn (QRY to a live CHL) */
  preSent: Set<number>
  freshQry: Set<number>
  referral: { host: string; port: number; cookie?: string; sessionId?: string } | null
  salt?: string
  twnParams?: string
  ssoPolicy?: string
  ssoNonce?: string
  login: Promise<void> | null
  credentials: LoginResult | null
  sent: number
  received: number
  /** endpoints, kept once connected (a closed socket forgets them) */
  local: string | null
  remote: string | null
  /** the replay closed it where the recorded client did */
  endedAsRecorded: boolean
  /** closed by the server with nothing left to do (a DS after XFR NS) */
  closedOk: boolean
  socketError: string | null
  reason?: string
  closeWaiters: (() => void)[]
}

/** The credentials of the replay's options that substitutions read. */
export interface SecretsOptions {
  password?: Secret
  ticket?: Secret
  proofKey?: string
}

/** Values of the live session that later commands need. */
export function learnFromServer(c: LiveConn, cmd: CommandEvent): void {
  const a = cmd.args
  if (cmd.verb === 'VER' && a[0] !== undefined) {
    const d = parseDialect(a[0])
    if (d !== null) { c.dialect.dialect = d; c.dialect.confirmed = true }
  } else if (cmd.verb === 'USR' && a[1] === 'S') {
    if (a[0] === 'MD5' && a[2] !== undefined) c.salt = a[2]
    if (a[0] === 'TWN' && a[2] !== undefined) c.twnParams = a[2]
    if (a[0] === 'SSO') {
      if (a[2] !== undefined) c.ssoPolicy = a[2]
      if (a[3] !== undefined) c.ssoNonce = a[3]
    }
  }
}

/** The arguments of a recorded command with the live session's values in place; `note` says what could not be replaced. */
export function substitutedArgs(c: LiveConn, s: PlannedSend, o: SecretsOptions, note: (detail: string) => void): string[] {
  const args = [...s.command.args]
  const account = loginAccount(c.plan)
  const password = secretFor(o.password, account)
  const ticket = secretFor(o.ticket, account) ?? (c.credentials?.ticket || undefined)
  switch (s.substitution) {
    case 'sb-cookie':
      if (c.referral?.cookie !== undefined) args[1] = c.referral.cookie
      if (s.command.verb === 'ANS' && c.referral?.sessionId !== undefined) args[2] = c.referral.sessionId
      break
    case 'md5-login':
      if (password !== undefined && c.salt !== undefined) args[2] = md5LoginResponse(c.salt, password)
      else note(password === undefined ? `no password for ${account ?? 'the account'}: the recorded MD5 response is sent again` : 'the server sent no salt: the recorded MD5 response is sent again')
      break
    case 'twn-ticket':
      if (ticket !== undefined) args[2] = ticket
      break
    case 'sso-login': {
      if (ticket !== undefined) args[2] = ticket
      const proof = c.credentials?.proofKey ?? o.proofKey
      if (proof !== undefined && c.ssoNonce !== undefined) args[3] = mbiKeyResponse(proof, c.ssoNonce, randomBytes(8))
      break
    }
    default: break
  }
  return args
}
