/**
 * Rules: the small values users write to police MSN traffic. A rule is a name, a match and an
 * action (and optionally how many times it may apply); rule scripts export arrays of them, the
 * policy file and the preset flags produce them, and the engine (engine.ts) turns the first one
 * that matches a command into a Decision for the transport to carry out.
 *
 * Everything in rules/ is pure except load.ts, which reads and watches files: no sockets, no
 * disk, no clock (the engine is handed one). Rules are validated when they load (validate.ts),
 * never on first match. What a rule may see is a CommandView: the decoded command plus who it is
 * between (account, contact), its content type, message text and transfer file names.
 */
import type { CommandScopeEvent, Transport } from '../events.js'
import type { DecodedPayload, Fields, Role, Side } from '../protocol/events.js'
import type { ReplayableCommand } from '../replay/inject.js'

export type MaybePromise<T> = T | Promise<T>

/** One command as a rule sees it: the decoded event, plus what msnscope knows around it. */
export interface CommandView {
  verb: string
  /** who sent it */
  from: Side
  trId: number | null
  /** tokens after the verb and the TrID, without the payload length */
  args: readonly string[]
  payloadLength: number | null
  payloadRaw: Buffer | null
  /** the decoded per-verb fields (XFR target, USR stage, NLN status …) */
  fields: Fields
  /** the decoded payload (MIME headers and text, invitation, P2P header and MSNSLP …) */
  payload: DecodedPayload | null
  role: Role
  dialect: number | null
  transport: Transport
  conn: string
  /** the account signed in on this connection, when known */
  account: string | null
  /** the other party: the sender or recipient of a message, the contact of a presence change … */
  contact: string | null
  /** every other party of a switchboard conversation (the contact first) */
  contacts: readonly string[]
  /** the media type of a MIME payload, lower case without parameters (`text/plain`) */
  contentType: string | null
  /** the text of an instant message (MSG text/plain, SDG, UUM/UBM), null for anything else */
  text: string | null
  /** file names offered in transfer invitations (MSNFTP Application-File, MSNSLP Context) */
  fileNames: readonly string[]
  /** an invitation to a file transfer (MSNFTP INVITE or an MSNSLP INVITE for the file-transfer EUF-GUID) */
  fileTransfer: boolean
  /** milliseconds since the epoch: capture time for a capture, the engine's clock live */
  time: number
  /** the exact bytes of the command */
  raw: Buffer
  /** the event the view was made from */
  event: CommandScopeEvent
}

/**
 * Patterns in declarative matches. For accounts, contacts, content types and file names a string
 * is a case-insensitive glob (`*@example.com`, `*.exe`); for text it is a case-insensitive
 * substring. A RegExp is used as it is. A list matches when any of its entries does.
 */
export type Pattern = string | RegExp | readonly (string | RegExp)[]

/** A declarative match: every key given must hold. */
export interface MatchSpec {
  verb?: string | readonly string[]
  from?: Side
  role?: Role | readonly Role[]
  transport?: Transport
  /** one dialect, or a range (`{ min: 8 }`) */
  dialect?: number | { min?: number; max?: number }
  account?: Pattern
  contact?: Pattern
  contentType?: Pattern
  /** the decoded payload's kind: text, typing, datacast, invite, p2p, profile, mail … */
  payloadKind?: string | readonly string[]
  text?: Pattern
  /** whole words in the message text, case-insensitive */
  words?: readonly string[]
  fileName?: Pattern
  fileTransfer?: boolean
  /** decoded fields that must equal these values (`{ status: 'AWY' }`) */
  fields?: Readonly<Record<string, string | number | boolean | null>>
  /** none of these may match */
  not?: MatchSpec
  /** at least one of these must match */
  any?: readonly MatchSpec[]
}

export type MatchFunction = (c: CommandView) => MaybePromise<boolean>
export type Match = MatchSpec | MatchFunction

/** Forward the command unchanged (and stop looking at later rules). */
export interface PassAction { type: 'pass' }

/**
 * Drop the command, keeping both ends consistent: a MSG whose sender asked for an
 * acknowledgement gets NAK, a file-transfer invitation a decline, a login the error a real
 * server sends. `answer: false` drops without any answer.
 */
export interface BlockAction { type: 'block'; answer?: boolean }

/**
 * Drop the command and answer the sender with an error: `code` (an MSNP error number) or the
 * error a real server gives for that command; `status` answers a gateway request with that HTTP
 * status instead; `close` ends the connection after the answer.
 */
export interface RejectAction { type: 'reject'; code?: number; status?: number; close?: boolean }

export type Rewriter<T, R = T> = (value: T, c: CommandView) => MaybePromise<R>

/**
 * Change the command before it is forwarded. Payload lengths are recomputed; `text` and
 * `headers` keep every other MIME header byte for byte.
 */
export interface RewriteAction {
  type: 'rewrite'
  verb?: string
  args?: readonly string[] | Rewriter<readonly string[]>
  /** the message text (MSG text/plain, SDG, UUM) */
  text?: string | Rewriter<string>
  /** words in the message text to replace with asterisks */
  mask?: readonly string[]
  /** MIME headers to set (a string) or remove (null) */
  headers?: Readonly<Record<string, string | null>>
  /** the whole payload */
  payload?: string | Buffer | Rewriter<Buffer, string | Buffer>
}

/**
 * A command to send. A string is a complete command line (without CRLF) in which `{trId}` is
 * replaced by a fresh TrID. In the object form a command toward the server gets a fresh TrID
 * unless `trId` is given (null: none); toward the client it has none unless given. `message` is
 * a plain text instant message: toward the client `MSG <from> <name> <len>` (from the contact
 * unless `from` says otherwise), toward the server `MSG <trId> U <len>`.
 */
export type InjectCommand =
  | string
  | { verb: string; trId?: number | null; args?: readonly string[]; payload?: string | Buffer; to?: Side }
  | { message: string; from?: string; name?: string; to?: Side }

/** Send extra commands to either side; the matched command is forwarded unless `original: 'drop'`. */
export interface InjectAction {
  type: 'inject'
  to: Side
  commands: InjectCommand | readonly InjectCommand[] | ((c: CommandView) => MaybePromise<InjectCommand | readonly InjectCommand[]>)
  original?: 'forward' | 'drop'
}

/**
 * Forward the command, then send it again `times` times (default 1, at most 100) to `to`
 * (default: where it was going). Toward the server every copy gets a fresh TrID, and the
 * server's replies to the copies stop at msnscope. With `file` (a pcap, pcapng or saved JSONL
 * recording, relative to the rule file), the client commands recorded on its first connection
 * (or on `conn`) are sent instead of the matched command; the recording is read once, when the
 * rules load.
 */
export interface ReplayAction {
  type: 'replay'
  times?: number
  to?: Side
  file?: string
  conn?: string
}

/** End the connection (both sides). */
export interface CloseAction { type: 'close' }

/** Label the command and go on to the next rule. */
export interface TagAction { type: 'tag'; tags: readonly string[] }

/** Count and label the command (with `message`, or the rule's name) and go on to the next rule. */
export interface LogAction { type: 'log'; message?: string }

export type RuleAction = PassAction | BlockAction | RejectAction | RewriteAction | InjectAction | ReplayAction | CloseAction | TagAction | LogAction
export type ActionType = RuleAction['type']
/** Actions that need no parameters may be written as their name. */
export type ShortAction = 'pass' | 'block' | 'reject' | 'close'
export type ActionFunction = (c: CommandView) => MaybePromise<RuleAction | ShortAction>

export interface Rule {
  /** unique within its file; hit counters are `rule:<name>` */
  name: string
  match: Match
  action: RuleAction | ShortAction | ActionFunction
  /** apply at most this many times */
  times?: number
  /** one sentence for listings; describeRule() writes one when absent */
  description?: string
}

/** A rule after validation, with where it came from. */
export interface LoadedRule {
  rule: Rule
  /** the file (or preset) it came from */
  source: string
  /** position in its source, from 1 */
  index: number
  /** the declarative match compiled to a test (function matches are kept as they are) */
  test: MatchFunction
  /** a replay action's recorded commands, read from its `file` when the rule loaded */
  sequence?: readonly ReplayableCommand[]
}
