import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HttpParser, headerValue, type HttpParserEvent } from '../../src/pcap/http.js'
import { formatMessengerHeader, gatewayTargetAddress, parseGatewayTarget, parseMessengerHeader, replaceGatewayIp, sessionKey } from '../../src/protocol/gateway.js'

/** Events folded into readable strings: heads, bodies joined per message, ends, gaps, skips. */
function summary(events: HttpParserEvent[]): string[] {
  const out: string[] = []
  let body = ''
  for (const e of events) {
    if (e.type === 'head') out.push(e.head.kind === 'request' ? `${e.head.method} ${e.head.target}` : `${e.head.status}`)
    else if (e.type === 'body') body += e.data.toString('latin1')
    else if (e.type === 'gap') body += `<gap ${e.bytes}>`
    else if (e.type === 'end') { out.push(`body ${JSON.stringify(body)} ${e.bodyLength}${e.complete ? '' : ' incomplete'}`); body = '' }
    else out.push(`skip ${e.bytes}`)
  }
  return out
}

const requests =
  'POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com HTTP/1.1\r\n' +
  'Host: gateway.messenger.hotmail.com\r\nContent-Type: application/x-msn-messenger\r\nContent-Length: 18\r\n\r\n' +
  'VER 1 MSNP8 CVR0\r\n' +
  'POST /gateway/gateway.dll?Action=poll&SessionID=1559468680.45556 HTTP/1.1\r\nContent-Length: 0\r\n\r\n' +
  'POST /gateway/gateway.dll?SessionID=1559468680.45556 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5\r\nOUT\r\n\r\n0\r\n\r\n'

const responses =
  'HTTP/1.1 100 Continue\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1559468680.45556; GW-IP=203.0.113.90\r\nContent-Length: 13\r\n\r\nVER 1 MSNP8\r\n' +
  'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nX-MSN-Messenger: Session=close; SessionID=1559468680.45556\r\n\r\nrest until close'

const wantRequests = [
  'POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com', 'body "VER 1 MSNP8 CVR0\\r\\n" 18',
  'POST /gateway/gateway.dll?Action=poll&SessionID=1559468680.45556', 'body "" 0',
  'POST /gateway/gateway.dll?SessionID=1559468680.45556', 'body "OUT\\r\\n" 5',
]
const wantResponses = ['100', 'body "" 0', '200', 'body "VER 1 MSNP8\\r\\n" 13', '200', 'body "" 0', '200', 'body "rest until close" 16']

test('frames pipelined requests (length, empty, chunked) split at every offset', () => {
  const bytes = Buffer.from(requests, 'latin1')
  for (let cut = 0; cut <= bytes.length; cut++) {
    const p = new HttpParser('request')
    const ev = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut)), ...p.end()]
    assert.deepEqual(summary(ev), wantRequests, `cut ${cut}`)
  }
})

test('frames responses: interim 100, keep-alive, and a body that runs to the close', () => {
  const bytes = Buffer.from(responses, 'latin1')
  for (let cut = 0; cut <= bytes.length; cut += 7) {
    const p = new HttpParser('response')
    const ev = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut)), ...p.end()]
    assert.deepEqual(summary(ev), wantResponses, `cut ${cut}`)
  }
})

test('a response to HEAD has no body, whatever its Content-Length says', () => {
  const p = new HttpParser('response')
  p.expectResponseTo('HEAD')
  const ev = p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'))
  assert.deepEqual(summary(ev), ['200', 'body "" 0', '204', 'body "" 0'])
})

test('a gap inside a body of known length stays in the body; elsewhere it resynchronises', () => {
  const p = new HttpParser('request')
  const ev = [
    ...p.push(Buffer.from('POST /gateway/gateway.dll?SessionID=1.2 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc')),
    ...p.gap(4),
    ...p.push(Buffer.from('xyzPOST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nok')),
    ...p.gap(30),
    ...p.push(Buffer.from('tail of something\r\nPOST /y HTTP/1.1\r\n\r\n')),
  ]
  assert.deepEqual(summary(ev), [
    'POST /gateway/gateway.dll?SessionID=1.2', 'body "abc<gap 4>xyz" 10 incomplete',
    'POST /x', 'body "ok" 2',
    'skip 19', 'POST /y', 'body "" 0',
  ])
})

test('bytes that are not HTTP are skipped up to the next start line', () => {
  const p = new HttpParser('response')
  const ev = p.push(Buffer.from('\x00\x01binary junk\r\nmore\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'))
  assert.deepEqual(summary(ev), ['skip 21', '200', 'body "hi" 2'])
})

test('headers: case-insensitive lookup, folded lines', () => {
  const p = new HttpParser('response')
  const ev = p.push(Buffer.from('HTTP/1.1 200 OK\r\nx-msn-messenger: SessionID=1.2;\r\n GW-IP=192.0.2.1\r\nContent-Length: 0\r\n\r\n'))
  const head = ev[0]!.type === 'head' ? ev[0]!.head : null
  assert.equal(headerValue(head!, 'X-MSN-Messenger'), 'SessionID=1.2; GW-IP=192.0.2.1')
})

test('parses the X-MSN-Messenger header in any order, keeping unknown items', () => {
  assert.deepEqual(parseMessengerHeader('SessionID=2087655601.11273; GW-IP=198.51.100.20'),
    { sessionId: '2087655601.11273', gwIp: '198.51.100.20', sessionClose: false, items: [['SessionID', '2087655601.11273'], ['GW-IP', '198.51.100.20']] })
  const close = parseMessengerHeader('Session=close; SessionID=5.6')
  assert.equal(close.sessionClose, true)
  assert.equal(close.sessionId, '5.6')
  assert.equal(close.gwIp, null)
  const modern = parseMessengerHeader('SessionID=1.2; GW-IP=192.0.2.9; MoreData=true; Service-Channel=NS')
  assert.deepEqual(modern.items.map(([k]) => k), ['SessionID', 'GW-IP', 'MoreData', 'Service-Channel'])
  assert.equal(formatMessengerHeader(modern.items), 'SessionID=1.2; GW-IP=192.0.2.9; MoreData=true; Service-Channel=NS')
  assert.equal(replaceGatewayIp('SessionID=1.2; GW-IP=192.0.2.9', '127.0.0.1'), 'SessionID=1.2; GW-IP=127.0.0.1')
  assert.equal(sessionKey('954547325.13160'), '954547325')
})

test('parses gateway request targets in origin and absolute form', () => {
  const open = parseGatewayTarget('http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=SB&IP=192.0.2.77')
  assert.equal(open.host, 'gateway.messenger.hotmail.com')
  assert.equal(open.isGateway, true)
  assert.equal(open.action, 'open')
  assert.equal(open.server, 'SB')
  assert.equal(open.ip, '192.0.2.77')
  assert.equal(open.sessionId, null)
  const send = parseGatewayTarget('/gateway/gateway.dll?SessionID=954547325.13160')
  assert.deepEqual([send.host, send.action, send.sessionId], [null, 'send', '954547325.13160'])
  assert.equal(parseGatewayTarget('/gateway/gateway.dll?Action=poll&SessionID=1.2').action, 'poll')
  assert.equal(parseGatewayTarget('/index.html').isGateway, false)
  assert.equal(gatewayTargetAddress('192.0.2.77'), '192.0.2.77:1863')
  assert.equal(gatewayTargetAddress('192.0.2.77:1864'), '192.0.2.77:1864')
  assert.equal(gatewayTargetAddress('2001:db8::7'), '[2001:db8::7]:1863')
})
