/** Recordings for replay: a pcap, pcapng or saved JSONL file read through the capture import. */
import type { ScopeEvent } from '../events.js'
import { importCapture, type CaptureSource, type ImportResult } from '../transport/pcap-import.js'

export interface Recording {
  events: ScopeEvent[]
  /** what the import found (format, warnings about damage) */
  source: ImportResult
}

/** Read a whole recording into memory (replay needs all of it before the first command). */
export async function loadRecording(source: CaptureSource, options: { signal?: AbortSignal } = {}): Promise<Recording> {
  const events: ScopeEvent[] = []
  const result = await importCapture(source, (ev) => { events.push(ev) }, options.signal !== undefined ? { signal: options.signal } : {})
  return { events, source: result }
}
