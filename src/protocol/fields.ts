/** Per-verb field decoding; see fields/ for each family of commands. */
import type { CommandEvent, Fields } from './events.js'

export function decodeFields(cmd: CommandEvent): Fields {
  void cmd
  return {}
}
