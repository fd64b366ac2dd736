// MSG payloads decoded by content type: the transcripts' MSGs (TV1-TV4, TV6, TV9) and the examples
// of messages.md (text formatting, typing, datacasts, invitations, emoticons, NS notifications).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CommandEvent, DecodedPayload } from '../../src/protocol/events.js'
import { decodePayload } from '../../src/protocol/payload.js'
import { decodeImFormat } from '../../src/protocol/payload-format.js'
import { itemBytes, VECTORS } from '../helpers/vectors.js'

const cmd = (verb: string): CommandEvent => ({
  kind: 'command', from: 'server', offset: 0, raw: Buffer.alloc(0), verb, trId: null, args: [],
  payloadLength: 0, payloadRaw: null, fields: {}, payload: null, dialect: null,
})
const decode = (verb: string, payload: Buffer | string): DecodedPayload => {
  const p = decodePayload(cmd(verb), typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload)
  assert.ok(p !== null)
  return p
}

/** The payloads of a transcript's commands with this verb, in order (bytes after the command line). */
function payloads(tv: string, verb: string): Buffer[] {
  const items = VECTORS[tv]
  assert.ok(Array.isArray(items))
  return items.map(itemBytes).filter((b) => b.toString('latin1').startsWith(`${verb} `)).map((b) => b.subarray(b.indexOf(0x0a) + 1))
}

test('TV4 typing notification names the typing user', () => {
  const p = decode('MSG', payloads('TV4', 'MSG')[0]!)
  assert.equal(p.kind, 'typing')
  assert.equal(p.contentType, 'text/x-msmsgscontrol')
  assert.equal(p.typingUser, 'alice@example.com')
  assert.deepEqual(p.headers, { 'MIME-Version': '1.0', 'Content-Type': 'text/x-msmsgscontrol', TypingUser: 'alice@example.com' })
  assert.equal(p.error, undefined)
})

test('TV4 text message: UTF-8 body and X-MMS-IM-Format, identical in both directions', () => {
  const [typing, text, nudge, , relayed, , reply] = payloads('TV4', 'MSG')
  void typing; void nudge
  for (const b of [text!, relayed!]) {
    const p = decode('MSG', b)
    assert.equal(p.kind, 'text')
    assert.equal(p.contentType, 'text/plain; charset=UTF-8')
    assert.equal(p.mediaType, 'text/plain')
    assert.equal(p.charset, 'UTF-8')
    assert.equal(p.text, 'Hi Bob — lunch at nöön?')
    assert.deepEqual(p.format, {
      font: 'Segoe UI', effects: { bold: true, italic: false, underline: false, strikethrough: false },
      color: '#0000ff', charset: 0, charsetName: 'ANSI', pitchFamily: 0x22, pitch: 'variable', family: 'swiss',
    })
  }
  const r = decode('MSG', reply!)
  assert.equal(r.text, 'sure :)')
  assert.deepEqual(r.format, {
    font: 'Arial', effects: { bold: false, italic: false, underline: false, strikethrough: false },
    color: '#000000', charset: 0, charsetName: 'ANSI', pitchFamily: 0x22, pitch: 'variable', family: 'swiss',
  })
})

test('TV4 nudge is datacast 1', () => {
  const p = decode('MSG', payloads('TV4', 'MSG')[2]!)
  assert.equal(p.kind, 'datacast')
  assert.equal(p.datacastId, 1)
  assert.equal(p.datacastName, 'nudge')
  assert.deepEqual(p.fields, { ID: '1' })
})

test('messages.md text example: CO=ff is red, and every format attribute decodes', () => {
  const p = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff; CS=0; PF=22\r\n\r\nHello')
  assert.equal(p.text, 'Hello')
  assert.equal((p.format as { color: string }).color, '#ff0000')
  assert.deepEqual(decodeImFormat('FN=Comic%20Sans%20MS; EF=BIUS; CO=ff00; CS=86; PF=31; RL=1'), {
    font: 'Comic Sans MS', effects: { bold: true, italic: true, underline: true, strikethrough: true },
    color: '#00ff00', charset: 0x86, charsetName: 'GB2312', pitchFamily: 0x31, pitch: 'fixed', family: 'modern', rtl: true,
  })
  assert.equal(decodeImFormat('CO=ff0000').color, '#0000ff')
  assert.equal(decodeImFormat('CO=123456').color, '#563412')
  assert.equal(decodeImFormat('CO=0').color, '#000000')
  assert.deepEqual(decodeImFormat('EF=I').effects, { bold: false, italic: true, underline: false, strikethrough: false })
  assert.deepEqual(decodeImFormat('EF=U').effects, { bold: false, italic: false, underline: true, strikethrough: false })
  assert.deepEqual(decodeImFormat('EF=S').effects, { bold: false, italic: false, underline: false, strikethrough: true })
  assert.equal(decodeImFormat('CS=CC').charsetName, 'Cyrillic')
  assert.equal(decodeImFormat('PF=12').family, 'roman')
  assert.equal(decodeImFormat('RL=0').rtl, false)
})

test('bad format values are reported, not thrown', () => {
  const f = decodeImFormat('FN=%E0%A4%A; CO=zz; PF=; XX=1; junk')
  assert.equal(f.font, '%E0%A4%A')
  assert.equal(f.color, undefined)
  assert.match(f.error ?? '', /CO=zz/)
  assert.match(f.error ?? '', /XX/)
})

test('long messages: Message-ID and Chunks headers are surfaced', () => {
  const p = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nMessage-ID: {A1B2C3D4-0000-1111-2222-333344445555}\r\nChunks: 3\r\n\r\npart one')
  assert.equal(p.messageId, '{A1B2C3D4-0000-1111-2222-333344445555}')
  assert.equal(p.chunks, 3)
  const q = decode('MSG', 'Message-ID: {A1B2C3D4-0000-1111-2222-333344445555}\r\nChunk: 1\r\n\r\npart two')
  assert.equal(q.chunk, 1)
})

test('text in other charsets, and invalid UTF-8 flagged', () => {
  const latin = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=ISO-8859-1\r\n\r\n'), Buffer.from([0x6e, 0xf6, 0xf6, 0x6e])])
  assert.equal(decode('MSG', latin).text, 'nöön')
  const utf16 = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=UTF-16\r\n\r\n'), Buffer.from('hé', 'utf16le')])
  assert.equal(decode('MSG', utf16).text, 'hé')
  const bad = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=UTF-8\r\n\r\n'), Buffer.from([0x68, 0xff, 0x69])])
  const p = decode('MSG', bad)
  assert.equal(p.text, 'h\ufffdi')
  assert.match(String(p.error), /not valid UTF-8/)
})

test('typing with an empty body, datacast bodies from pidgin and papyon, and the other datacasts', () => {
  assert.equal(decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: bob@example.net\r\n\r\n').typingUser, 'bob@example.net')
  for (const body of ['ID: 1\r\n', 'ID: 1\r\n\r\n']) {
    const p = decode('MSG', `MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\n${body}`)
    assert.equal(p.datacastName, 'nudge', JSON.stringify(body))
  }
  const wink = decode('MSG', 'Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 2\r\nData: <msnobj Creator="bob@example.net" Size="1024" Type="8" Location="0" Friendly="dwBpAG4AawAAAA=="/>\r\n\r\n')
  assert.equal(wink.datacastName, 'wink')
  assert.deepEqual(wink.msnObject, { creator: 'bob@example.net', size: 1024, type: 8, typeName: 'wink', location: '0', friendly: 'wink' })
  assert.equal(decode('MSG', 'Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 3\r\nData: <msnobj Type="11"/>\r\n\r\n').datacastName, 'voice-clip')
  const action = decode('MSG', 'Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 4\r\nData: waves hello\r\n\r\n')
  assert.equal(action.datacastName, 'action-message')
  assert.equal(action.data, 'waves hello')
  assert.equal(decode('MSG', 'Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 99\r\n').datacastName, 'unknown')
  assert.match(String(decode('MSG', 'Content-Type: text/x-msnmsgr-datacast\r\n\r\nhello').error), /ID/)
})

const INVITE = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n' +
  'Application-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\n' +
  'Invitation-Command: INVITE\r\nInvitation-Cookie: 28461930\r\nApplication-File: résumé 2005.doc\r\n' +
  'Application-FileSize: 48213\r\nConnectivity: N\r\n\r\n'

test('legacy file-transfer invitation: INVITE, ACCEPT, CANCEL', () => {
  const p = decode('MSG', INVITE)
  assert.equal(p.kind, 'invite')
  assert.equal(p.fileName, 'résumé 2005.doc')
  assert.equal(p.fileSize, 48213)
  const inv = p.invitation as Record<string, unknown>
  assert.equal(inv.command, 'INVITE')
  assert.equal(inv.cookie, '28461930')
  assert.equal(inv.applicationName, 'File Transfer')
  assert.equal(inv.application, 'file-transfer')
  assert.equal(inv.connectivity, 'N')
  assert.equal((inv.fields as Record<string, string>)['Application-FileSize'], '48213')

  const accept = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n' +
    'IP-Address: 198.51.100.7\r\nIP-Address-Internal: 10.0.0.7\r\nPort: 6891\r\nPortX: 11178\r\nAuthCookie: 1470193311\r\n' +
    'Sender-Connect: TRUE\r\nInvitation-Command: ACCEPT\r\nInvitation-Cookie: 28461930\r\nLaunch-Application: FALSE\r\nRequest-Data: IP-Address:\r\n\r\n')
  const a = accept.invitation as Record<string, unknown>
  assert.deepEqual([a.command, a.cookie, a.ipAddress, a.ipAddressInternal, a.port, a.portX, a.authCookie, a.senderConnect, a.launchApplication, a.requestData],
    ['ACCEPT', '28461930', '198.51.100.7', '10.0.0.7', 6891, 11178, '1470193311', 'TRUE', 'FALSE', 'IP-Address:'])
  assert.equal(accept.fileName, undefined)

  const cancel = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\nInvitation-Command: CANCEL\r\nInvitation-Cookie: 28461930\r\nCancel-Code: REJECT\r\n\r\n')
  assert.deepEqual([(cancel.invitation as Record<string, unknown>).command, (cancel.invitation as Record<string, unknown>).cancelCode], ['CANCEL', 'REJECT'])

  const voice = decode('MSG', 'Content-Type: text/x-msmsgsinvite\r\n\r\nApplication-GUID: {02D3C01F-BF30-4825-A83A-DE7AF41648AA}\r\nInvitation-Command: INVITE\r\n\r\n')
  assert.equal((voice.invitation as Record<string, unknown>).application, 'voice')
  assert.match(String(decode('MSG', 'Content-Type: text/x-msmsgsinvite\r\n\r\n').error), /Invitation-Command/)
})

test('custom emoticon definitions: shortcut and MSNObject pairs', () => {
  const obj1 = '<msnobj Creator="alice@example.com" Size="2048" Type="2" Location="TFR2C.tmp" Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ=" SHA1C="U5wxpg1y7PkI0zm3yBdyTFX6T5c="/>'
  const obj2 = '<msnobj Creator="alice@example.com" Size="999" Type="2" Location="TFR2D.tmp" Friendly="AAA="/>'
  const p = decode('MSG', `MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n\r\n:cat:\t${obj1}\t(dog)\t${obj2}\t`)
  assert.equal(p.kind, 'emoticon')
  assert.equal(p.animated, false)
  const list = p.emoticons as Array<{ shortcut: string; msnObject: Record<string, unknown> }>
  assert.deepEqual(list.map((e) => e.shortcut), [':cat:', '(dog)'])
  assert.deepEqual(list[0]!.msnObject, {
    creator: 'alice@example.com', size: 2048, type: 2, typeName: 'custom-emoticon', location: 'TFR2C.tmp', friendly: '',
    sha1d: 'trC8SlFx2sWQxZMIBAWSEnXc8oQ=', sha1c: 'U5wxpg1y7PkI0zm3yBdyTFX6T5c=',
  })
  assert.equal(decode('MSG', `Content-Type: text/x-mms-animemoticon\r\n\r\n;)\t${obj2}\t`).animated, true)
})

test('profile at login (TV1, TV2, TV3, TV6): headers plus named fields', () => {
  const tv6 = decode('MSG', payloads('TV6', 'MSG')[0]!)
  assert.equal(tv6.kind, 'profile')
  assert.equal((tv6.headers as Record<string, string>).MSPAuth, '5Ax!EXAMPLE*TICKET*only*for*tests$$')
  assert.equal((tv6.headers as Record<string, string>).PostalCode, '')
  assert.deepEqual(
    [tv6.loginTime, tv6.emailEnabled, tv6.memberId, tv6.langPreference, tv6.preferredEmail, tv6.country, tv6.flags, tv6.sid, tv6.kv, tv6.clientIp, tv6.clientPort, tv6.abchMigrated, tv6.mpopEnabled],
    [1118234602, true, 20279315496909, 1033, 'alice@example.com', 'US', 1027, 507, 9, '203.0.113.55', 40965, true, true])
  const tv1 = decode('MSG', payloads('TV1', 'MSG')[0]!)
  assert.deepEqual([tv1.kind, tv1.kv, tv1.clientIp, tv1.abchMigrated], ['profile', 2, undefined, undefined])
  assert.equal(decode('MSG', payloads('TV2', 'MSG')[0]!).clientPort, 40965)
  assert.equal(decode('MSG', payloads('TV3', 'MSG')[0]!).abchMigrated, true)
})

test('mail notifications: initial counts (TV2, TV9), new mail, folder activity, OIM mail data', () => {
  const tv2 = decode('MSG', payloads('TV2', 'MSG')[1]!)
  assert.equal(tv2.kind, 'mail')
  assert.equal(tv2.mailType, 'initial')
  assert.deepEqual([tv2.inboxUnread, tv2.foldersUnread, tv2.inboxUrl, tv2.foldersUrl, tv2.postUrl], [3, 0, '/cgi-bin/HoTMaiL', '/cgi-bin/folders', 'http://www.hotmail.com'])

  const stream = Buffer.from((VECTORS.TV9 as { stream_hex: string }).stream_hex, 'hex')
  const at = stream.indexOf('MSG Hotmail Hotmail 108\r\n')
  const tv9 = decode('MSG', stream.subarray(at + 25, at + 25 + 108))
  assert.deepEqual([tv9.mailType, tv9.inboxUnread], ['initial', 0])

  const fresh = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsemailnotification; charset=UTF-8\r\n\r\n' +
    'From: =?utf-8?B?Qm9iIELDqWxh?=\r\nMessage-URL: /cgi-bin/getmsg?msg=MSG1\r\nPost-URL: https://mail.example.invalid/\r\n' +
    'Subject: =?utf-8?Q?Lunch_=C3=A0_midi?=\r\nDest-Folder: ACTIVE\r\nFrom-Addr: bob@example.net\r\nid: 2\r\n\r\n')
  assert.deepEqual([fresh.mailType, fresh.from, fresh.fromAddr, fresh.subject, fresh.destFolder, fresh.messageUrl, fresh.id],
    ['new', 'Bob Béla', 'bob@example.net', 'Lunch à midi', 'ACTIVE', '/cgi-bin/getmsg?msg=MSG1', '2'])

  const active = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsactivemailnotification; charset=UTF-8\r\n\r\nSrc-Folder: ACTIVE\r\nDest-Folder: trAsH\r\nMessage-Delta: 1\r\n\r\n')
  assert.deepEqual([active.mailType, active.srcFolder, active.destFolder, active.messageDelta], ['activity', 'ACTIVE', 'trAsH', 1])

  const md = '<MD><E><I>12</I><IU>2</IU><O>4</O><OU>1</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q>' +
    '<M><T>11</T><S>6</S><RT>2005-06-08T18:22:41.523Z</RT><RS>0</RS><SZ>1052</SZ><E>bob@example.net</E>' +
    '<I>08CBD8BE-9972-433C-A9DA-84A0A725ABFA</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?Qm9i?=</N></M></MD>'
  const oim = decode('MSG', `MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialmdatanotification; charset=UTF-8\r\n\r\nMail-Data: ${md}\r\nInbox-URL: /cgi-bin/HoTMaiL\r\n\r\n`)
  assert.equal(oim.mailType, 'mail-data')
  assert.deepEqual(oim.mailData, {
    inboxTotal: 12, inboxUnread: 2, otherTotal: 4, otherUnread: 1, quotaTotal: 409600, quotaUsed: 204800,
    offlineMessages: [{ type: 11, state: 6, received: '2005-06-08T18:22:41.523Z', size: 1052, from: 'bob@example.net', id: '08CBD8BE-9972-433C-A9DA-84A0A725ABFA', folder: '00000000-0000-0000-0000-000000000009', name: '=?utf-8?B?Qm9i?=' }],
  })
  const tooLarge = decode('MSG', 'Content-Type: text/x-msmsgsoimnotification; charset=UTF-8\r\n\r\nMail-Data: too-large\r\n\r\n')
  assert.deepEqual([tooLarge.mailType, tooLarge.mailData], ['oim', { tooLarge: true }])
})

test('system message, client caps, keep-alive, ink and unknown content types', () => {
  const sys = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n\r\n')
  assert.equal(sys.kind, 'mime') // only the text/x- form is the system message
  const sys2 = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgssystemmessage; charset=UTF-8\r\n\r\nType: 1\r\nArg1: 5\r\n\r\n')
  assert.deepEqual([sys2.kind, sys2.systemType, sys2.minutes], ['system', 1, 5])
  const caps = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-clientcaps\r\n\r\nClient-Name: Purple/2.10.0\r\nChat-Logging: Y\r\n')
  assert.deepEqual([caps.kind, caps.fields], ['clientcaps', { 'Client-Name': 'Purple/2.10.0', 'Chat-Logging': 'Y' }])
  const ka = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-keepalive\r\n\r\n')
  assert.deepEqual([ka.kind, ka.headers], ['keepalive', { 'MIME-Version': '1.0', 'Content-Type': 'text/x-keepalive' }])
  const ink = decode('MSG', Buffer.concat([Buffer.from('MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\n'), Buffer.from('474946383961000000', 'hex')]))
  assert.deepEqual([ink.kind, ink.dataLength, ink.preview], ['ink', 9, '474946383961000000'])
  const other = decode('MSG', 'MIME-Version: 1.0\r\nContent-Type: text/x-something-new\r\n\r\nhello there')
  assert.deepEqual([other.kind, other.mediaType, other.text], ['mime', 'text/x-something-new', 'hello there'])
})

test('headers: case-insensitive lookups, names kept as sent, LF and bare CR line ends tolerated', () => {
  const p = decode('MSG', 'mime-version: 1.0\ncontent-type: TEXT/PLAIN; Charset="utf-8"\n\nhi')
  assert.deepEqual([p.kind, p.mediaType, p.charset, p.text], ['text', 'text/plain', 'utf-8', 'hi'])
  assert.deepEqual(p.headers, { 'mime-version': '1.0', 'content-type': 'TEXT/PLAIN; Charset="utf-8"' })
  const cr = decode('MSG', 'MIME-Version: 1.0\rContent-Type: text/x-msmsgscontrol\rTypingUser: bob@example.net\r\r\n')
  assert.equal(cr.typingUser, 'bob@example.net')
  const utf8Header = decode('MSG', 'Content-Type: text/x-msmsgscontrol\r\nTypingUser: jürgen@example.net\r\n\r\n')
  assert.equal(utf8Header.typingUser, 'jürgen@example.net')
})

test('UUM and UBM carry MIME messages too', () => {
  const p = decode('UUM', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi yahoo')
  assert.deepEqual([p.kind, p.text], ['text', 'hi yahoo'])
  assert.equal(decode('UBM', 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: bob@yahoo.example\r\n\r\n').typingUser, 'bob@yahoo.example')
})

test('what messages with the same header block share is frozen, so no message can change another', () => {
  const text = payloads('TV4', 'MSG')[1]!
  const a = decode('MSG', text), b = decode('MSG', text)
  assert.deepEqual(a, b)
  assert.notEqual(a, b)
  assert.ok(Object.isFrozen(a.headers) && Object.isFrozen(a.format))
  assert.throws(() => { (a.headers as Record<string, string>)['Content-Type'] = 'changed' }, TypeError)
  assert.throws(() => { (a.format as { effects: { bold: boolean } }).effects.bold = false }, TypeError)
  // the payload object itself is the message's own
  a.text = 'changed'
  const c = decode('MSG', text)
  assert.equal((c.headers as Record<string, string>)['Content-Type'], 'text/plain; charset=UTF-8')
  assert.equal((c.format as { effects: { bold: boolean } }).effects.bold, true)
  assert.equal(c.text, b.text)
})
