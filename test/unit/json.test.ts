import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ScopeEvent } from '../../src/events.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import { SessionTracker } from '../../src/session/tracker.js'
import { wrapDecoderEvent } from '../../src/session/wrap.js'
import { toJson, toJsonLine } from '../../src/sinks/json.js'
import { vectorStreams } from '../helpers/vectors.js'

test('command lines are exactly JSON.stringify of the event object, for every vector command and every option', () => {
  const tracker = new SessionTracker()
  let n = 0
  for (const s of vectorStreams()) {
    const state = tracker.open({ conn: `c${++n}`, transport: 'tcp', client: '192.0.2.1:1234', server: null })
    for (const e of new MsnpDecoder(s.from, { dialect: state.dialectState }).push(s.bytes)) {
      const ev = wrapDecoderEvent(state, e, n, '2026-01-02T03:04:05.678Z')
      const variants: ScopeEvent[] = [ev]
      if (ev.kind === 'command') {
        variants.push({ ...ev, action: 'rewrite', rule: 'r "quoted"', tags: ['a', 'b\n'], forwarded: ev.command.raw })
        variants.push({ ...ev, account: 'ünïcode@example.com', dialect: null, action: 'block', forwarded: Buffer.from('x') })
      }
      for (const v of variants) {
        for (const raw of [false, true]) assert.equal(toJsonLine(v, { raw }), JSON.stringify(toJson(v, { raw })), s.name)
      }
    }
  }
  assert.ok(n > 10)
})
