/**
 * What a real server (or the other client) would have said, so that a blocked or rejected
 * command leaves both ends consistent instead of waiting forever:
 *
 * - a MSG whose sender asked for an acknowledgement (A, N, D) gets `NAK t`;
 * - an invitation (a file transfer, or any other) gets a decline: `Invitation-Command: CANCEL`
 *   with `Cancel-Code: REJECT` (MSNFTP), or a P2P acknowledgement and `MSNSLP/1.0 603 Decline`;
 * - a login gets what a server sends to a client it refuses: `VER t 0` for VER and `911 t` for
 *   USR (Escargot and the lab answer a refused sign-in with 911), and a switchboard's USR/ANS 911.
 *
 * Pure: builds bytes from the command and the connection's memory.
 */
import type { Side } from '../protocol/events.js'
import { bareAccount } from '../session/tracker.js'
import { encodeCommand } from '../protocol/encoder.js'
import type { DecisionContext } from './decision.js'
import type { ConnMemory } from './memory.js'
import type { CommandView } from './rule.js'
import { isInvitation } from './view.js'

export interface Answer {
  /** to the sender of the command */
  reply?: Buffer[]
  /** extra commands (a decline sent to the server on the client's behalf …) */
  inject?: { to: Side; bytes: Buffer }[]
}

const CRLF = '\r\n'
const line = (verb: string, trId: number | null, args: readonly string[] = [], payload?: Buffer): Buffer =>
  encodeCommand({ verb, trId, args, payloadRaw: payload ?? null })

/** `NNN t`: an MSNP error reply. */
export const errorReply = (code: number, trId: number): Buffer => Buffer.from(`${String(code).padStart(3, '0')} ${trId}${CRLF}`, 'latin1')

const rec = (v: unknown): Record<string, unknown> | null => v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null
const str = (v: unknown): string | null => typeof v === 'string' ? v : null

/** A plain text instant message payload. */
export function textPayload(text: string): Buffer {
  return Buffer.from(`MIME-Version: 1.0${CRLF}Content-Type: text/plain; charset=UTF-8${CRLF}X-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=0; PF=22${CRLF}${CRLF}${text}`, 'utf8')
}

/** An MSNFTP (text/x-msmsgsinvite) CANCEL for an invitation cookie. */
export function invitationCancel(cookie: string, code = 'REJECT'): Buffer {
  return Buffer.from(
    `MIME-Version: 1.0${CRLF}Content-Type: text/x-msmsgsinvite; charset=UTF-8${CRLF}${CRLF}` +
    `Invitation-Command: CANCEL${CRLF}Invitation-Cookie: ${cookie}${CRLF}Cancel-Code: ${code}${CRLF}${CRLF}`, 'utf8')
}

/** The friendly-name token of a participant (as it appeared on the wire), or the account. */
const nameToken = (mem: ConnMemory, account: string): string => mem.participant(account)?.nameToken ?? account

/** `MSG <from> <name> <len>`: a message as the switchboard delivers it. */
export const serverMsg = (from: string, name: string, payload: Buffer): Buffer => line('MSG', null, [from, name], payload)

/** A fresh TrID toward the server, remembered so that the server's reply is not passed on. */
export function freshTrId(ctx: DecisionContext, mem: ConnMemory): number {
  const t = ctx.nextClientTrId()
  mem.injected(t)
  return t
}

const ackMode = (c: CommandView): string => c.from === 'client' ? (c.args[0] ?? '').toUpperCase() : ''

/** NAK for a client MSG whose acknowledgement mode promises one on failure (A, N, D). */
export function nakFor(c: CommandView): Buffer | null {
  if (c.verb !== 'MSG' || c.from !== 'client' || c.trId === null) return null
  const mode = ackMode(c)
  return mode === 'A' || mode === 'N' || mode === 'D' ? line('NAK', c.trId) : null
}

/** ACK for a client MSG that the other side "received" (A, S, D). */
function ackFor(c: CommandView): Buffer | null {
  if (c.trId === null) return null
  const mode = ackMode(c)
  return mode === 'A' || mode === 'S' || mode === 'D' ? line('ACK', c.trId) : null
}

// ---- P2P (MSNC v1 header) ----

interface P2PFields {
  sessionId: number
  identifier: number
  totalSize: bigint
  messageSize: number
  flags: number
  ackIdentifier: number
  ackUniqueId: number
  ackDataSize: bigint
}

const big = (v: unknown): bigint => typeof v === 'number' ? BigInt(v) : typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : 0n

function p2pPayload(dest: string, h: P2PFields, body: Buffer, appId = 0): Buffer {
  const head = Buffer.from(`MIME-Version: 1.0${CRLF}Content-Type: application/x-msnmsgrp2p${CRLF}P2P-Dest: ${dest}${CRLF}${CRLF}`, 'utf8')
  const bin = Buffer.alloc(48)
  bin.writeUInt32LE(h.sessionId >>> 0, 0)
  bin.writeUInt32LE(h.identifier >>> 0, 4)
  bin.writeBigUInt64LE(0n, 8)
  bin.writeBigUInt64LE(h.totalSize, 16)
  bin.writeUInt32LE(h.messageSize >>> 0, 24)
  bin.writeUInt32LE(h.flags >>> 0, 28)
  bin.writeUInt32LE(h.ackIdentifier >>> 0, 32)
  bin.writeUInt32LE(h.ackUniqueId >>> 0, 36)
  bin.writeBigUInt64LE(h.ackDataSize, 40)
  const footer = Buffer.alloc(4)
  footer.writeUInt32BE(appId >>> 0, 0)
  return Buffer.concat([head, bin, body, footer])
}

const randomId = (): number => 1 + Math.floor(Math.random() * 0x7ffffff0)

/** The P2P acknowledgement of a received message and an MSNSLP 603 Decline for its INVITE. */
function p2pDecline(c: CommandView, mem: ConnMemory): { ack: Buffer; decline: Buffer; inviter: string; invitee: string } | null {
  const p = c.payload
  if (p === null || p.version !== 1) return null
  const h = rec(p.header), slp = rec(p.slp)
  if (h === null || slp === null) return null
  const headers = rec(slp.headers) ?? {}
  const header = (name: string): string | null => {
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return str(v)
    return null
  }
  const inviter = str(slp.from), invitee = str(slp.to)
  const toRaw = header('to'), fromRaw = header('from'), callId = str(slp.callId), branch = str(slp.branch)
  if (inviter === null || invitee === null || toRaw === null || fromRaw === null || callId === null) return null
  const ackId = randomId()
  const ack = p2pPayload(inviter, {
    sessionId: Number(h.sessionId ?? 0), identifier: ackId, totalSize: big(h.totalSize), messageSize: 0, flags: 0x2,
    ackIdentifier: Number(h.identifier ?? 0), ackUniqueId: Number(h.ackedIdentifier ?? 0), ackDataSize: big(h.totalSize),
  }, Buffer.alloc(0))
  const sid = typeof slp.sessionId === 'number' ? slp.sessionId : 0
  const body = Buffer.from(`SessionID: ${sid}${CRLF}${CRLF}\0`, 'utf8')
  const slpText = Buffer.from(
    `MSNSLP/1.0 603 Decline${CRLF}To: ${fromRaw}${CRLF}From: ${toRaw}${CRLF}` +
    `Via: MSNSLP/1.0/TLP ;branch=${branch ?? callId}${CRLF}CSeq: 1${CRLF}Call-ID: ${callId}${CRLF}Max-Forwards: 0${CRLF}` +
    `Content-Type: application/x-msnmsgr-sessionreqbody${CRLF}Content-Length: ${body.length}${CRLF}${CRLF}`, 'utf8')
  const slpBytes = Buffer.concat([slpText, body])
  const declineId = ackId + 1
  const decline = p2pPayload(inviter, {
    sessionId: 0, identifier: declineId, totalSize: BigInt(slpBytes.length), messageSize: slpBytes.length, flags: 0,
    ackIdentifier: randomId(), ackUniqueId: 0, ackDataSize: 0n,
  }, slpBytes)
  mem.ownP2P(ackId)
  mem.ownP2P(declineId)
  return { ack, decline, inviter, invitee }
}

/** The invitation cookie of an MSNFTP invite. */
function inviteCookie(c: CommandView): string | null {
  const inv = rec(c.payload?.invitation)
  return inv === null ? null : str(inv.cookie)
}

/** Decline a file-transfer invitation on behalf of the side that never saw it. */
function declineInvitation(c: CommandView, mem: ConnMemory, ctx: DecisionContext): Answer | null {
  const p = c.payload
  if (p === null) return null
  if (c.from === 'client') {
    // the inviter is our client: answer as the invitee would, and tell the others it is off
    const acked = ackFor(c)
    if (p.kind === 'invite') {
      const cookie = inviteCookie(c)
      const peer = c.contact
      if (cookie === null || peer === null) return null
      const reply = [serverMsg(peer, nameToken(mem, peer), invitationCancel(cookie))]
      if (acked !== null) reply.unshift(acked)
      const notice = line('MSG', freshTrId(ctx, mem), ['U'], invitationCancel(cookie))
      return { reply, inject: [{ to: 'server', bytes: notice }] }
    }
    const d = p2pDecline(c, mem)
    if (d === null) return null
    const invitee = bareAccount(d.invitee)
    const name = nameToken(mem, invitee)
    const reply = [serverMsg(invitee, name, d.ack), serverMsg(invitee, name, d.decline)]
    if (acked !== null) reply.unshift(acked)
    return { reply }
  }
  // the invitee is our client: it never sees the invitation; the inviter gets its decline
  if (p.kind === 'invite') {
    const cookie = inviteCookie(c)
    if (cookie === null) return null
    return { inject: [{ to: 'server', bytes: line('MSG', freshTrId(ctx, mem), ['U'], invitationCancel(cookie)) }] }
  }
  const d = p2pDecline(c, mem)
  if (d === null) return null
  return {
    inject: [
      { to: 'server', bytes: line('MSG', freshTrId(ctx, mem), ['D'], d.ack) },
      { to: 'server', bytes: line('MSG', freshTrId(ctx, mem), ['D'], d.decline) },
    ],
  }
}

/** The answer that keeps both ends consistent when a command is blocked. */
export function blockAnswer(c: CommandView, mem: ConnMemory, ctx: DecisionContext): Answer {
  if (c.fileTransfer || isInvitation(c.payload)) {
    const d = declineInvitation(c, mem, ctx)
    if (d !== null) return d
  }
  if (c.from !== 'client' || c.trId === null) {
    // PNG has no TrID but expects QNG
    if (c.from === 'client' && c.verb === 'PNG') return { reply: [line('QNG', null, c.dialect !== null && c.dialect >= 9 ? ['60'] : [])] }
    return {}
  }
  const t = c.trId
  switch (c.verb) {
    case 'MSG': { const nak = nakFor(c); return nak === null ? {} : { reply: [nak] } }
    case 'VER': return { reply: [line('VER', t, ['0'])] }
    case 'USR': case 'ANS': return { reply: [errorReply(911, t)] }
    // accepted, as far as the client can tell
    case 'CHG': return { reply: [line('CHG', t, c.args)] }
    case 'UUX': return { reply: [line('UUX', t, ['0'])] }
    case 'CAL': return { reply: [errorReply(217, t)] }
    default: return {}
  }
}

/** Default error codes of `reject` by verb (anything else: 502, command disabled). */
export const REJECT_CODES: Readonly<Record<string, number>> = {
  USR: 911, ANS: 911, CAL: 217, XFR: 280, CVR: 710, CVQ: 710, ADD: 201, ADC: 201, REA: 209, PRP: 209, CHG: 201,
}

/** The error reply of `reject` (null when the command cannot be answered: no TrID, from the server). */
export function rejectAnswer(c: CommandView, code: number | undefined): Buffer | null {
  if (c.from !== 'client' || c.trId === null) return null
  if (code !== undefined) return errorReply(code, c.trId)
  if (c.verb === 'VER') return line('VER', c.trId, ['0'])
  if (c.verb === 'MSG') return nakFor(c)
  return errorReply(REJECT_CODES[c.verb] ?? 502, c.trId)
}
