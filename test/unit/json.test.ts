import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ScopeEvent } from '../../src/events.js'
import { MsnpDecoder } from '../../src/protocol/decoder.js'
import { SessionTracker } from '../../src/session/tracker.js'
import { wrapDecoderEvent } from '../../src/session/wrap.js'
import { replacer, toJson, toJsonLine } from '../../src/sinks/json.js'
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
        variants.push({ ...ev, account: 'lone \ud800 surrogate, pair \ud83d\ude00, tab\t, quote" and back\\slash', client: '\u0001' })
      }
      for (const v of variants) {
        for (const raw of [false, true]) assert.equal(toJsonLine(v, { raw }), JSON.stringify(toJson(v, { raw })), s.name)
      }
    }
  }
  assert.ok(n > 10)
})

test('lines of every other kind are exactly JSON.stringify of the event object with the replacer', () => {
  const base = { seq: 7, ts: '2026-01-02T03:04:05.678Z', conn: 'c3', transport: 'http' as const, client: '[::1]:5000', server: null, role: 'NS' as const }
  const events: ScopeEvent[] = [
    { ...base, kind: 'session-open', parent: 'c1', via: 'XFR', midStream: true },
    { ...base, kind: 'session-open', account: null, dialect: 12 },
    { ...base, kind: 'session-close', account: 'bob@example.com', dialect: null, reason: 'server closed "nicely"\n', bytes: { client: 10, server: 0 } },
    { ...base, kind: 'gap', from: 'server', bytes: 1460, reason: undefined } as unknown as ScopeEvent,
    { ...base, kind: 'http', from: 'client', method: 'POST', url: '/gateway/gateway.dll?Action=open&Server=NS&IP=1.2.3.4', bodyLength: 0, sessionClose: false, status: Number.NaN },
    { ...base, kind: 'http', from: 'server', status: 200, sessionId: '\ud800x', gwIp: '10.0.0.1', bodyLength: -0, note: 'ünïcode' },
    { ...base, kind: 'redirect', verb: 'XFR', real: '1.2.3.4:1863', handedOut: null, note: 'left alone' },
    { ...base, kind: 'limit', limit: 'max-connections', detail: 'cap of 1 reached' },
    { ...base, kind: 'rule-error', rule: 'r1', error: 'TypeError: x is not a function' },
    { ...base, kind: 'replay-diff', detail: 'verb', expected: 'OK', actual: '911' },
    { ...base, kind: 'unmatched', detail: 'no recorded reply' },
    { ...base, kind: 'stats', counters: { 'rule:a': 3, big: 1e21 } },
    { ...base, kind: 'stats', counters: { n: 1 }, extra: { buf: Buffer.from('hi'), big: 12345678901234567890n, nested: [1, 'two', null] } } as unknown as ScopeEvent,
  ]
  for (const ev of events) {
    const expected = JSON.stringify(toJson(ev), replacer)
    assert.equal(toJsonLine(ev), expected)
    assert.deepEqual(Object.keys(JSON.parse(toJsonLine(ev)) as object), Object.keys(JSON.parse(expected) as object))
  }
  assert.match(toJsonLine(events[12]!), /"buf":"aGk=","big":"12345678901234567890"/)
})
