/** `--save FILE.jsonl`: every event as a JSON line with its raw bytes, secrets redacted by default. */
import type { EventSink, ScopeEvent } from '../events.js'
import { BatchedFile } from './file-writer.js'
import { toJsonLine } from './json.js'
import type { Redactor } from './redact.js'

export function jsonlFileSink(path: string, redactor: Redactor | null, onError?: (err: Error) => void): { sink: EventSink; close: () => void } {
  const file = new BatchedFile(path, onError !== undefined ? { onError } : {})
  const sink: EventSink = (ev: ScopeEvent) => {
    let out = ev
    if (redactor !== null && ev.kind === 'command') {
      const masked = redactor.redact(ev.command)
      if (masked !== null) {
        out = { ...ev, command: masked }
        if (ev.forwarded !== undefined) out = { ...out, forwarded: redactor.redactBytes(ev.command, ev.forwarded) }
      }
    }
    file.write(toJsonLine(out, { raw: true }) + '\n')
  }
  return { sink, close: () => file.close() }
}
