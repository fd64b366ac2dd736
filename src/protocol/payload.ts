/**
 * Payload decoding by verb (and, for MIME messages, by content type): MSG/UUM/UBM in
 * payload-msg.ts, the NS documents and MSNP21 multi-part messages in payload-ns.ts. The result is
 * a plain JSON-friendly object tagged by `kind`; anything unreadable becomes a payload object with
 * an `error`, never an exception, and unknown payloads are described as `bytes`.
 */
import type { CommandEvent, DecodedPayload } from './events.js'
import { hexPreview, printableText } from './mime.js'
import { decodeMimeMessage } from './payload-msg.js'
import { decodeChallengeResponse, decodeContactList, decodeMultipart, decodeNotification, decodePolicy, decodePsm } from './payload-ns.js'

export { parseMime, encodeMime, rewriteText } from './mime.js'
export type { MimeHeader, ParsedMime } from './mime.js'

/** Any payload as bytes: its length, and its text when that is printable UTF-8. */
export function bytesPayload(payload: Buffer, error?: string): DecodedPayload {
  const p: DecodedPayload = { kind: 'bytes', length: payload.length }
  const text = printableText(payload)
  if (text !== undefined) p.text = text
  else p.preview = hexPreview(payload)
  if (error !== undefined) p.error = error
  return p
}

function decode(verb: string, payload: Buffer): DecodedPayload {
  switch (verb) {
    case 'MSG': case 'UUM': case 'UBM':
      return decodeMimeMessage(payload)
    case 'UUX': case 'UBX':
      return decodePsm(payload.toString('utf8'))
    case 'ADL': case 'RML': case 'FQY':
      return decodeContactList(payload.toString('utf8')) ?? bytesPayload(payload, 'not an <ml> document')
    case 'NOT': case 'IPG':
      return decodeNotification(payload.toString('utf8'))
    case 'GCF':
      return decodePolicy(payload.toString('utf8'))
    case 'QRY':
      return decodeChallengeResponse(payload)
    case 'SDG': case 'NFY': case 'PUT': case 'DEL':
      return decodeMultipart(payload)
    default: {
      const c = verb.charCodeAt(0)
      // numeric error replies sometimes echo the offending document (241 after a bad ADL)
      if (c >= 48 && c <= 57) return decodeContactList(payload.toString('utf8')) ?? bytesPayload(payload)
      return bytesPayload(payload)
    }
  }
}

export function decodePayload(cmd: CommandEvent, payload: Buffer): DecodedPayload | null {
  if (payload.length === 0) return { kind: 'bytes', length: 0 }
  const verb = cmd.verb
  try {
    // lower-case verbs are rare (flagged by the decoder); don't pay for toUpperCase on every command
    return decode(verb.charCodeAt(0) >= 97 || verb.charCodeAt(1) >= 97 || verb.charCodeAt(2) >= 97 ? verb.toUpperCase() : verb, payload)
  } catch (err) {
    // a decoder bug must not take the connection down; the raw bytes are still forwarded as they came
    return bytesPayload(payload, `payload decoder failed: ${err instanceof Error ? err.message : String(err)}`)
  }
}
