/** Payload decoding by verb and content type. */
import type { CommandEvent, DecodedPayload } from './events.js'

export function decodePayload(cmd: CommandEvent, payload: Buffer): DecodedPayload | null {
  void cmd; void payload
  return null
}
