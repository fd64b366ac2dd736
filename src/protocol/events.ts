/**
 * What the MSNP decoder emits for one direction of one connection.
 * Every event carries its exact bytes (`raw`), so a consumer can forward it unchanged, and
 * the `raw` lengths of all events add up to the number of bytes pushed.
 */
export type Side = 'client' | 'server'
export type Role = 'DS' | 'NS' | 'SB' | '?'

/** How a line departed from canonical form, kept so that encoding reproduces it exactly. */
export interface WireLayout {
  /** the line ended in a bare LF instead of CRLF */
  eol?: '\n'
  /** separators around and between tokens when they were not single spaces: tokens.length + 1 entries */
  sep?: string[]
  /** the TrID token as written, when it was not canonical decimal (e.g. "007") */
  trIdToken?: string
  /** the payload-length token as written, when it was not canonical decimal */
  lengthToken?: string
  /** the command line was not valid UTF-8 and was read as latin1 */
  latin1?: true
}

export type Fields = Record<string, unknown>

/** A decoded payload. `kind` says which decoder produced it; the rest depends on it. */
export interface DecodedPayload {
  kind: string
  [key: string]: unknown
}

export interface CommandEvent {
  kind: 'command'
  from: Side
  /** offset of the first byte of the command in this direction's byte stream */
  offset: number
  raw: Buffer
  verb: string
  trId: number | null
  /** tokens after the verb and the TrID, without the payload length */
  args: string[]
  /** null: the command carries no payload; 0 or more: it does */
  payloadLength: number | null
  /** the exact payload bytes (null when there is none) */
  payloadRaw: Buffer | null
  fields: Fields
  payload: DecodedPayload | null
  /** the dialect in force when the command was decoded (8 for MSNP8), null when unknown */
  dialect: number | null
  wire?: WireLayout
  /** anomalies worth showing that did not stop decoding ("lowercase verb", "desync suspected") */
  notes?: string[]
}

export type MalformedCode =
  | 'empty-line'
  | 'not-a-command'
  | 'line-too-long'
  | 'bad-payload-length'
  | 'payload-too-large'
  | 'truncated'
  | 'resync'

export interface MalformedEvent {
  kind: 'malformed'
  from: Side
  offset: number
  raw: Buffer
  code: MalformedCode
  reason: string
}

export type MsnpEvent = CommandEvent | MalformedEvent
