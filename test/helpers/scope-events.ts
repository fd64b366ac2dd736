/** Real ScopeEvents for tests: MSNP bytes through the real decoder, wrapped with connection info. */
import type { Action, ScopeEvent } from '../../src/events.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { Role, Side } from '../../src/protocol/events.js'

export interface Step {
  conn: string
  role: Role
  from: Side
  /** MSNP bytes of one or more commands */
  wire: string | Buffer
  account?: string | null
  dialect?: number | null
  action?: Action
  rule?: string
  transport?: 'tcp' | 'http'
}

const T0 = Date.parse('2024-05-01T12:00:00.000Z')

/** Decode each step and number the events 1, 2, 3 … with times 10 ms apart. */
export function scopeEvents(steps: Step[], start = 1): ScopeEvent[] {
  const out: ScopeEvent[] = []
  let seq = start
  for (const s of steps) {
    const d = new MsnpDecoder(s.from, s.dialect !== undefined && s.dialect !== null ? { dialect: s.dialect } : {})
    const bytes = typeof s.wire === 'string' ? Buffer.from(s.wire, 'utf8') : s.wire
    for (const e of [...d.push(bytes), ...d.end()]) {
      const base = {
        seq, ts: new Date(T0 + seq * 10).toISOString(), conn: s.conn, transport: s.transport ?? 'tcp' as const,
        client: '192.0.2.1:50000', server: '198.51.100.1:1863', role: s.role,
        account: s.account ?? null, dialect: s.dialect ?? null,
      }
      seq++
      if (e.kind === 'command') {
        const ev: ScopeEvent = { ...base, kind: 'command', command: e, action: s.action ?? 'pass' }
        if (s.rule !== undefined) ev.rule = s.rule
        out.push(ev)
      } else {
        out.push({ ...base, kind: 'malformed', from: e.from, code: e.code, reason: e.reason, raw: e.raw })
      }
    }
  }
  return out
}

export const one = (step: Step): ScopeEvent => {
  const [ev] = scopeEvents([step])
  if (ev === undefined) throw new Error('no event decoded')
  return ev
}

export const mimeText = (text: string): string => `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=0\r\n\r\n${text}`
export const msg = (trId: number, ack: string, payload: string): string => `MSG ${trId} ${ack} ${Buffer.byteLength(payload)}\r\n${payload}`
export const serverMsg = (sender: string, name: string, payload: string | Buffer): Buffer => {
  const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
  return Buffer.concat([Buffer.from(`MSG ${sender} ${name} ${p.length}\r\n`), p])
}

/** A P2P MSG payload: MIME headers, the 48-byte header, a body and the footer. */
export function p2pPayload(h: { sessionId: number; identifier: number; offset?: number; totalSize: number; flags: number; ackIdentifier?: number; footer?: number }, body: Buffer): Buffer {
  const head = Buffer.alloc(48)
  head.writeUInt32LE(h.sessionId, 0)
  head.writeUInt32LE(h.identifier, 4)
  head.writeBigUInt64LE(BigInt(h.offset ?? 0), 8)
  head.writeBigUInt64LE(BigInt(h.totalSize), 16)
  head.writeUInt32LE(body.length, 24)
  head.writeUInt32LE(h.flags, 28)
  head.writeUInt32LE(h.ackIdentifier ?? 0, 32)
  const footer = Buffer.alloc(4)
  footer.writeUInt32BE(h.footer ?? 0)
  return Buffer.concat([Buffer.from('MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@example.net\r\n\r\n'), head, body, footer])
}

export function slpInvite(fileName?: string): Buffer {
  let bodyFields = 'EUF-GUID: {A4268EEC-FEC5-49E5-95C3-F126696BDBF6}\r\nSessionID: 3175662\r\nAppID: 1\r\nContext: PG1zbm9iai8+\r\n\r\n'
  if (fileName !== undefined) {
    const ctx = Buffer.alloc(574)
    ctx.writeUInt32LE(574, 0)
    ctx.writeUInt32LE(2, 4)
    ctx.writeBigUInt64LE(1234n, 8)
    ctx.writeUInt32LE(1, 16)
    Buffer.from(fileName, 'utf16le').copy(ctx, 20)
    bodyFields = `EUF-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\nSessionID: 99\r\nAppID: 2\r\nContext: ${ctx.toString('base64')}\r\n\r\n`
  }
  const body = `${bodyFields}\0`
  return Buffer.from(`INVITE MSNMSGR:bob@example.net MSNSLP/1.0\r\nTo: <msnmsgr:bob@example.net>\r\nFrom: <msnmsgr:alice@example.com>\r\nVia: MSNSLP/1.0/TLP ;branch={6F2A81B3-4C3D-4E7A-9D2B-1C0F8E5A7B90}\r\nCSeq: 0\r\nCall-ID: {B1E0C3D2-5A4F-4E6D-8C7B-9A0F1E2D3C4B}\r\nMax-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'utf8')
}
