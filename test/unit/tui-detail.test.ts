import { test } from 'node:test'
import assert from 'node:assert/strict'
import { detailLines, hexDump } from '../../src/tui/detail.js'
import { one, p2pPayload, slpInvite } from '../helpers/scope-events.js'
import type { ScopeEvent } from '../../src/events.js'

/** The detail pane's text without blessed markup. */
const text = (lines: string[]): string => lines.join('\n').replace(/\{(?!open\}|close\})\/?[a-z-]*\}/g, '').replace(/\{open\}/g, '{').replace(/\{close\}/g, '}')

test('hex dump: offset, 16 bytes in two groups, printable text', () => {
  const lines = hexDump(Buffer.from('MSG 4 N 5\r\nhello{}', 'latin1'))
  assert.deepEqual(lines, [
    '000000  4d 53 47 20 34 20 4e 20  35 0d 0a 68 65 6c 6c 6f  MSG 4 N 5..hello',
    '000010  7b 7d                                             {}',
  ])
  assert.match(hexDump(Buffer.alloc(100), 32).at(-1)!, /… 68 more bytes/)
})

test('a P2P message: MIME headers, the binary header table, MSNSLP, file name and raw bytes', () => {
  const invite = slpInvite('report.pdf')
  const payload = p2pPayload({ sessionId: 0, identifier: 7, totalSize: invite.length, flags: 0, footer: 2 }, invite)
  const ev = one({ conn: 'c3', role: 'SB', from: 'client', wire: Buffer.concat([Buffer.from(`MSG 5 D ${payload.length}\r\n`), payload]), account: 'alice@example.com', dialect: 9, action: 'rewrite', rule: 'strip-files' })
  const out = text(detailLines(ev))
  assert.match(out, /^#1 {2}MSG {2}2024-05-01T12:00:00\.010Z$/m)
  assert.match(out, /^connection +c3 \(SB, MSNP9, tcp\) {2}192\.0\.2\.1:50000 ⇄ 198\.51\.100\.1:1863$/m)
  assert.match(out, /^action +REWRITTEN {2}by rule strip-files$/m)
  assert.match(out, new RegExp(`^line +MSG 5 D ${payload.length}$`, 'm'))
  assert.match(out, /── Payload {2}application\/x-msnmsgrp2p {2}\(\d+ bytes\) ──/)
  assert.match(out, /^ {2}P2P-Dest: bob@example\.net$/m)
  assert.match(out, /── P2P binary header \(v1, 48 bytes, little-endian\) ──/)
  assert.match(out, /^ {2}4 +Identifier +7 +0x00000007$/m)
  assert.match(out, new RegExp(`^ {2}24 +MessageLength +${invite.length} +0x`, 'm'))
  assert.match(out, /^ {2}end +Footer \(AppID\) +2 +0x00000002$/m)
  assert.match(out, /── MSNSLP ──\n {2}INVITE MSNMSGR:bob@example\.net MSNSLP\/1\.0/)
  assert.match(out, /EUF-GUID +\{5D3E02AB-6190-11D3-BBBB-00C04F795683\}/)
  assert.match(out, /^ {2}file +report\.pdf$/m)
  assert.match(out, /── Raw \(\d+ bytes\) ──\n {2}000000 {2}4d 53 47 20 35 20 44 20/)
})

test('events that are not commands show their fields, malformed ones their bytes', () => {
  const bad = one({ conn: 'c4', role: '?', from: 'server', wire: 'hello {there}\r\n' })
  const out = text(detailLines(bad))
  assert.match(out, /^what +not-a-command: /m)
  assert.match(out, /── Raw \(15 bytes\) ──\n {2}000000 {2}68 65 6c 6c 6f 20 7b 74/)
  assert.match(out, /hello \{there\}\.\./, 'braces from the wire are escaped, not read as markup')
  const close: ScopeEvent = { seq: 9, ts: '2024-05-01T12:00:02Z', kind: 'session-close', conn: 'c5', transport: 'http', client: null, server: null, role: 'SB', reason: 'Session=close', bytes: { client: 10, server: 20 } }
  const closeOut = text(detailLines(close))
  assert.match(closeOut, /connection +c5 \(SB, HTTP gateway\)/)
  assert.match(closeOut, /^ {2}bytes\.server +20$/m)
})
