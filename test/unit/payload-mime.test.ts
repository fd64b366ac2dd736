// The MIME header block for rewrite rules: parseMime/encodeMime give back the exact bytes whatever
// the line endings and spacing, rewriteText keeps every header; and no payload, however damaged,
// makes a decoder throw.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CommandEvent } from '../../src/protocol/events.js'
import { encodeMime, parseMime, rewriteText, type MimeHeader } from '../../src/protocol/mime.js'
import { decodePayload } from '../../src/protocol/payload.js'
import { itemBytes, VECTORS } from '../helpers/vectors.js'

const cmd = (verb: string): CommandEvent => ({
  kind: 'command', from: 'client', offset: 0, raw: Buffer.alloc(0), verb, trId: 1, args: [],
  payloadLength: 0, payloadRaw: null, fields: {}, payload: null, dialect: null,
})

/** Every payload of the transcripts (bytes after the command line). */
function vectorPayloads(): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = []
  for (const [tv, items] of Object.entries(VECTORS)) {
    if (!Array.isArray(items) || tv === 'TV5') continue
    for (const b of items.map(itemBytes)) {
      const lf = b.indexOf(0x0a)
      if (lf + 1 < b.length) out.push([b.toString('latin1', 0, 3), b.subarray(lf + 1)])
    }
  }
  return out
}

const ODD = [
  'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello',
  'MIME-Version:1.0\r\nContent-Type:   text/plain\r\nX-Empty:\r\nX-Tab:\tv\r\n\r\n',
  'MIME-Version: 1.0\nContent-Type: text/plain\n\nbare LF body\r\n',
  'MIME-Version: 1.0\rContent-Type: text/plain\r\rbare CR',
  'MIME-Version: 1.0\r\nContent-Type: text/plain\n\r\nmixed',
  'Content-Type: multipart/x; boundary=abc\r\n def\r\n\tghi\r\n\r\nfolded',
  'garbage line without colon\r\nContent-Type: text/plain\r\n\r\nx',
  'Content-Type: text/plain\r\nTrailing: space \r\n\r\n',
  'Content-Type: text/plain\r\n\r\n',
  'Content-Type: text/plain',
  'Content-Type: text/plain\r\n',
  '\r\nno headers',
  'TypingUser: jürgen@example.net\r\n\r\n',
]

test('encodeMime of an unchanged parse gives back the exact bytes', () => {
  const inputs: Buffer[] = ODD.map((s) => Buffer.from(s, 'utf8'))
  inputs.push(Buffer.from([0x58, 0x3a, 0x20, 0xe9, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x01])) // latin1 header value, binary body
  for (const [, b] of vectorPayloads()) inputs.push(b)
  for (const item of VECTORS.TV7 as Array<{ hex: string }>) { const b = Buffer.from(item.hex, 'hex'); inputs.push(b.subarray(b.indexOf(0x0a) + 1)) }
  for (const input of inputs) {
    const m = parseMime(input)
    assert.ok(encodeMime(m.headers, m.body).equals(input), JSON.stringify(input.toString('latin1')))
    assert.ok(encodeMime(m.headers.map((h) => [...h] as MimeHeader), m.body, m.end).equals(input))
    assert.ok(m.body.equals(input.subarray(m.headerEnd)))
  }
})

test('parseMime: header order, names as sent, values, body offset', () => {
  const input = Buffer.from('MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\nsure :)')
  const m = parseMime(input)
  assert.deepEqual(m.headers.map(([n, v]) => [n, v]), [['MIME-Version', '1.0'], ['Content-Type', 'text/plain; charset=UTF-8'], ['X-MMS-IM-Format', 'FN=Arial; EF=; CO=0; CS=0; PF=22']])
  assert.equal(m.headerEnd, input.length - 7)
  assert.equal(m.body.toString(), 'sure :)')
  assert.equal(m.end, '\r\n')
  assert.equal(m.error, undefined)
  assert.equal(parseMime(Buffer.from('Content-Type: text/plain')).error, 'header block not terminated by an empty line')
  assert.match(String(parseMime(Buffer.from('nonsense\r\n\r\n')).error), /without a colon/)
  assert.deepEqual(parseMime(Buffer.from('TypingUser: jürgen@example.net\r\n\r\n')).headers[0]!.slice(0, 2), ['TypingUser', 'jürgen@example.net'])
})

test('edited headers: changed values keep the line layout, new headers are canonical', () => {
  const m = parseMime(Buffer.from('MIME-Version: 1.0\nContent-Type: text/plain\n\nhi'))
  m.headers[1]![1] = 'text/plain; charset=UTF-8'
  m.headers.push(['X-Tag', 'msnscope'])
  assert.equal(encodeMime(m.headers, m.body).toString(), 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nX-Tag: msnscope\r\n\r\nhi')
  assert.equal(encodeMime([['Content-Type', 'text/x-msmsgscontrol'], ['TypingUser', 'a@b.c']], Buffer.from('\r\n')).toString(), 'Content-Type: text/x-msmsgscontrol\r\nTypingUser: a@b.c\r\n\r\n\r\n')
  assert.equal(encodeMime([], Buffer.from('x')).toString(), '\r\nx')
})

test('rewriteText replaces the text and keeps every header byte', () => {
  const text = (VECTORS.TV4 as Array<{ wire: string }>).map((i) => i.wire).find((w) => w.startsWith('MSG 4 A'))!
  const payload = Buffer.from(text.slice(text.indexOf('\n') + 1), 'utf8')
  const out = rewriteText(payload, 'Lunch is cancelled ✂')
  const head = payload.subarray(0, payload.indexOf('\r\n\r\n') + 4)
  assert.ok(out.subarray(0, head.length).equals(head))
  assert.equal(out.subarray(head.length).toString('utf8'), 'Lunch is cancelled ✂')
  const p = decodePayload(cmd('MSG'), out)!
  assert.deepEqual([p.text, (p.format as { font: string }).font], ['Lunch is cancelled ✂', 'Segoe UI'])

  const latin = Buffer.from('Content-Type: text/plain; charset=ISO-8859-1\n\nx')
  assert.deepEqual([...rewriteText(latin, 'né')], [...Buffer.from('Content-Type: text/plain; charset=ISO-8859-1\n\n'), 0x6e, 0xe9])
  assert.equal(rewriteText(Buffer.from('Content-Type: text/plain'), 'hi').toString(), 'Content-Type: text/plain\r\n\r\nhi')
})

test('rewriteText on an MSNP21 payload updates the inner Content-Length only', () => {
  const sdg = (VECTORS.TV8 as Array<{ wire: string }>)[1]!.wire
  const payload = Buffer.from(sdg.slice(sdg.indexOf('\n') + 1), 'utf8')
  const out = rewriteText(payload, 'good morning')
  assert.equal(out.toString(), payload.toString().replace('Content-Length: 5', 'Content-Length: 12').replace(/hello$/, 'good morning'))
  const p = decodePayload(cmd('SDG'), out)!
  assert.deepEqual([p.kind, p.text, p.error], ['multipart', 'good morning', undefined])
})

test('no payload makes a decoder throw: every prefix of every vector, and random bytes, for every verb', () => {
  const verbs = ['MSG', 'UUX', 'UBX', 'ADL', 'RML', 'FQY', 'NOT', 'IPG', 'GCF', 'QRY', 'SDG', 'NFY', 'PUT', 'DEL', 'UUM', 'UBM', '241', 'PGD']
  const check = (verb: string, b: Buffer): void => {
    const p = decodePayload(cmd(verb), b)
    assert.ok(p !== null && typeof p.kind === 'string')
    assert.doesNotThrow(() => JSON.stringify(p))
    assert.equal(String((p as { error?: unknown }).error ?? '').startsWith('payload decoder failed'), false, `${verb} ${b.toString('hex')}`)
  }
  for (const [verb, b] of vectorPayloads()) {
    const step = b.length > 300 ? 7 : 1
    for (let end = 0; end <= b.length; end += step) check(verb, b.subarray(0, end))
  }
  let seed = 12345
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n }
  const alphabet = Buffer.from('<>/="\' \r\n:;\0\\&#x%ml d c n l t Data PSM MSNSLP INVITE Content-Type: application/x-msnmsgrp2p text/plain Routing: 1.0 ')
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(rnd(120))
    for (let j = 0; j < b.length; j++) b[j] = rnd(3) === 0 ? rnd(256) : alphabet[rnd(alphabet.length)]!
    check(verbs[i % verbs.length]!, b)
  }
  // a P2P header whose lengths are all wrong
  const p2p = Buffer.concat([Buffer.from('Content-Type: application/x-msnmsgrp2p\r\n\r\n'), Buffer.alloc(60, 0xff)])
  check('MSG', p2p)
  assert.equal(typeof decodePayload(cmd('MSG'), p2p)!.error, 'string')
})
