/**
 * Commands back to bytes. Works from the decoded verb, TrID, args and payload only; the payload
 * length is always recomputed from the payload bytes. A command that was decoded and not changed
 * encodes to exactly the bytes it came from, because the decoder records in `wire` every way a
 * line departed from canonical form (bare LF, odd spacing, non-canonical numbers, latin1).
 */
import type { WireLayout } from './events.js'

export interface EncodableCommand {
  verb: string
  trId: number | null
  args: readonly string[]
  /** the payload bytes; null for a command without payload (`UBX x 0` has an empty Buffer) */
  payloadRaw?: Buffer | null
  wire?: WireLayout
}

/** Encode one command. Canonical form (single spaces, CRLF) unless `wire` says otherwise. */
export function encodeCommand(cmd: EncodableCommand): Buffer {
  const tokens: string[] = [cmd.verb]
  const wire = cmd.wire
  if (cmd.trId !== null) {
    const t = wire?.trIdToken
    tokens.push(t !== undefined && Number(t) === cmd.trId ? t : String(cmd.trId))
  }
  for (const a of cmd.args) tokens.push(a)
  const payload = cmd.payloadRaw ?? null
  if (payload !== null) {
    const t = wire?.lengthToken
    tokens.push(t !== undefined && Number(t) === payload.length ? t : String(payload.length))
  }
  let line: string
  const sep = wire?.sep
  if (sep !== undefined && sep.length === tokens.length + 1) {
    line = sep[0]!
    for (let i = 0; i < tokens.length; i++) line += tokens[i]! + sep[i + 1]!
  } else line = tokens.join(' ')
  line += wire?.eol ?? '\r\n'
  const head = Buffer.from(line, wire?.latin1 === true ? 'latin1' : 'utf8')
  return payload === null ? head : Buffer.concat([head, payload], head.length + payload.length)
}

/** Encode a command with a new payload (rewrites): the length token follows the new bytes. */
export function withPayload<T extends EncodableCommand>(cmd: T, payloadRaw: Buffer): Buffer {
  return encodeCommand({ ...cmd, payloadRaw })
}
