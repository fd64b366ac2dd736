/**
 * Builds the CommandView a rule sees from a command event: the decoded command as it is, plus
 * the parties, content type, message text and transfer file names pulled out of fields and
 * payload, so that a rule never has to know where each verb keeps them.
 */
import type { CommandScopeEvent } from '../events.js'
import type { DecodedPayload } from '../protocol/events.js'
import { bareAccount } from '../session/tracker.js'
import type { ConnMemory } from './memory.js'
import type { CommandView } from './rule.js'

/** Verbs whose `account` field names the connection's own account, not a contact. */
const OWN_ACCOUNT_VERBS = new Set(['USR', 'ANS', 'CVR', 'CVQ', 'VER', 'INF'])

const str = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : null
const rec = (v: unknown): Record<string, unknown> | null => v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null

/** The text of an instant message, null for anything else. */
export function messageText(p: DecodedPayload | null): string | null {
  if (p === null) return null
  if (p.kind === 'text') return typeof p.text === 'string' ? p.text : null
  if (p.kind === 'multipart' && p.mediaType === 'text/plain') {
    const type = p.messageType
    if (type === undefined || (typeof type === 'string' && type.toLowerCase() === 'text')) return typeof p.text === 'string' ? p.text : ''
  }
  return null
}

/** Is this payload an invitation: MSNFTP `Invitation-Command: INVITE` (any application) or an MSNSLP INVITE? */
export function isInvitation(p: DecodedPayload | null): boolean {
  if (p === null) return false
  if (p.kind === 'invite') return str(rec(p.invitation)?.command)?.toUpperCase() === 'INVITE'
  if (p.kind === 'p2p') return rec(p.slp)?.method === 'INVITE'
  return false
}

/** Is this payload a file-transfer invitation (MSNFTP or MSNSLP)? */
export function isFileTransferInvite(p: DecodedPayload | null): boolean {
  if (p === null) return false
  if (p.kind === 'invite') {
    const inv = rec(p.invitation)
    return inv !== null && str(inv.command)?.toUpperCase() === 'INVITE' && (inv.application === 'file-transfer' || str(inv.fileName) !== null)
  }
  if (p.kind === 'p2p') {
    const slp = rec(p.slp)
    return slp !== null && slp.method === 'INVITE' && slp.application === 'file-transfer'
  }
  return false
}

function partiesOf(event: CommandScopeEvent, mem: ConnMemory, own: string | null): string[] {
  const c = event.command
  const f = c.fields
  const first: string[] = []
  const add = (v: unknown): void => {
    const s = str(v)
    if (s === null) return
    const a = bareAccount(s)
    if (own !== null && a.toLowerCase() === own.toLowerCase()) return
    if (!first.some((x) => x.toLowerCase() === a.toLowerCase())) first.push(a)
  }
  const p = c.payload
  if (c.verb === 'MSG' && c.from === 'server') { if (f.sender !== 'Hotmail') add(f.sender) }
  else if (c.verb === 'RNG') add(f.caller)
  else if (!OWN_ACCOUNT_VERBS.has(c.verb)) add(f.account)
  if (p !== null) {
    const slp = rec(p.slp)
    if (slp !== null) { add(slp.to); add(slp.from) }
    if (p.kind === 'p2p') { add(p.dest); add(p.src) }
    const routing = rec(p.routing)
    if (routing !== null) { add(rec(routing.to)?.account); add(rec(routing.from)?.account) }
  }
  if (event.role === 'SB' || mem.participants.size > 0) for (const part of mem.participants.values()) add(part.account)
  return first
}

export function makeView(event: CommandScopeEvent, mem: ConnMemory, now: number): CommandView {
  const c = event.command
  const p = c.payload
  const account = event.account ?? null
  const contacts = partiesOf(event, mem, account)
  const fileName = p === null ? null : str(p.fileName)
  const parsed = event.ts === '' ? NaN : Date.parse(event.ts)
  return {
    verb: c.verb, from: c.from, trId: c.trId, args: c.args, payloadLength: c.payloadLength, payloadRaw: c.payloadRaw,
    fields: c.fields, payload: p, role: event.role, dialect: event.dialect ?? c.dialect, transport: event.transport, conn: event.conn,
    account, contact: contacts[0] ?? null, contacts,
    contentType: p === null ? null : str(p.mediaType),
    text: messageText(p),
    fileNames: fileName === null ? [] : [fileName],
    fileTransfer: isFileTransferInvite(p),
    time: Number.isFinite(parsed) ? parsed : now,
    raw: c.raw,
    event,
  }
}
