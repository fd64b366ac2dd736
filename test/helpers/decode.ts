/** One command line (and payload) through the real decoder, for field tests. */
import assert from 'node:assert/strict'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import type { CommandEvent, Fields, Side } from '../../src/protocol/events.js'

export function decode(line: string, from: Side, dialect: number | null = null, payload = ''): CommandEvent {
  const d = new MsnpDecoder(from, { dialect })
  const events = [...d.push(Buffer.from(`${line}\r\n${payload}`)), ...d.end()]
  assert.equal(events.length, 1, `one event for ${line}`)
  const e = events[0]!
  assert.equal(e.kind, 'command', line)
  return e as CommandEvent
}

export const fields = (line: string, from: Side, dialect: number | null = null, payload = ''): Fields =>
  decode(line, from, dialect, payload).fields
