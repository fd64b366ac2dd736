/**
 * Challenges and logins answered afresh during a client replay, checked against the vectors of
 * auth.md: a recording is served (its CHL and salt are the vectors' inputs) and the replay's
 * answers are read off the serving side.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { ScopeEvent } from '../../src/events.js'
import { planReplay } from '../../src/replay/plan.js'
import { replayClient, type ClientReplayOptions } from '../../src/replay/client.js'
import { startReplayServer } from '../../src/replay/server.js'
import { scopeEvents, type Step } from '../helpers/scope-events.js'

const HOST = '127.0.0.3'
type T = { after: (fn: () => Promise<void> | void) => void }

const C = (wire: string, dialect: number): Step => ({ conn: 'c1', role: 'NS', from: 'client', wire, dialect })
const S = (wire: string, dialect: number): Step => ({ conn: 'c1', role: 'NS', from: 'server', wire, dialect })
const qry = (trId: number, productId: string, answer: string): string => `QRY ${trId} ${productId} ${answer.length}\r\n${answer}`

/** A notification session that signs in (TWN), goes online and gets one challenge. */
function challengeSession(dialect: number, challenge: string, productId: string): ScopeEvent[] {
  const d = dialect
  return scopeEvents([
    C(`VER 1 MSNP${d} CVR0\r\n`, d), S(`VER 1 MSNP${d}\r\n`, d),
    C('CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 msmsgs alice@example.com\r\n', d),
    S('CVR 2 7.0.0816 7.0.0816 1.0.0863 http://download.example.invalid http://messenger.example.invalid\r\n', d),
    C(`USR 3 ${d >= 15 ? 'SSO' : 'TWN'} I alice@example.com\r\n`, d),
    S(d >= 15 ? 'USR 3 SSO S MBI_KEY_OLD CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW\r\n' : 'USR 3 TWN S lc=1033,id=507,tw=40,fs=1,ct=1118234600,kpp=1,kv=5,ver=2.1.0173.1,tpf=79cf2f3758728c3fd109fcbee5f446d2\r\n', d),
    C(d >= 15 ? 'USR 4 SSO S t=stale&p=stale HAAAAA==\r\n' : 'USR 4 TWN S t=stale&p=stale\r\n', d),
    S('USR 4 OK alice@example.com 1 0\r\n', d),
    C('CHG 5 NLN 0\r\n', d), S('CHG 5 NLN 0\r\n', d),
    S(`CHL 0 ${challenge}\r\n`, d),
    C(qry(6, productId, '00000000000000000000000000000000'), d), S('QRY 6\r\n', d),
    C('OUT\r\n', d),
  ])
}

/** Serve `events`, replay them against the server, return the commands the server received. */
async function replayAgainstServe(t: T, events: ScopeEvent[], options: Partial<ClientReplayOptions> = {}): Promise<{ received: ScopeEvent[]; completed: boolean }> {
  const plan = planReplay(events)
  const received: ScopeEvent[] = []
  const serve = await startReplayServer(plan, { listen: { host: HOST, port: 0 }, sink: (e) => { if (e.kind === 'command' && e.command.from === 'client') received.push(e) } })
  t.after(() => serve.close())
  const report = await replayClient(plan, { ...options, to: serve.address }).done
  assert.deepEqual(report.differences, [])
  return { received, completed: report.completed }
}

const payloadOf = (events: ScopeEvent[], verb: string): string[] =>
  events.flatMap((e) => e.kind === 'command' && e.command.verb === verb ? [e.command.payloadRaw?.toString('latin1') ?? ''] : [])

const VECTORS: { name: string; dialect: number; challenge: string; productId: string; answer: string; option?: string }[] = [
  { name: 'MSNP8, MD5 rule, msmsgs@msnmsgr.com', dialect: 8, challenge: '15570131571988941333', productId: 'msmsgs@msnmsgr.com', answer: '8f2f5a91b72102cd28355e9fc9000d6e' },
  { name: 'MSNP12, MSNP11 algorithm, PROD0090YUAUV{2B', dialect: 12, challenge: '22210219642164014968', productId: 'PROD0090YUAUV{2B', answer: '85ecb0db8f32113df79ce0892b9a102c' },
  { name: 'MSNP11, MSNP11 algorithm, another challenge', dialect: 11, challenge: '36819795137093047918', productId: 'PROD0090YUAUV{2B', answer: 'e7ad3cb09d3e9e4e7c720175984809e9' },
  { name: 'MSNP15, 27-digit challenge', dialect: 15, challenge: '237191752526424888127371168', productId: 'PROD0113H11T8$X_', answer: '65b6b623c649c25629af048d34066040' },
  { name: 'MSNP15, product id given instead of the recorded one', dialect: 15, challenge: '29409134351025259292', productId: 'PROD0090YUAUV{2B', option: 'PROD0119GSJUC$18', answer: '15afbac39c56a0b56001e32af423f912' },
]

for (const v of VECTORS) {
  test(`a live CHL is answered with the right QRY: ${v.name}`, async (t) => {
    const { received, completed } = await replayAgainstServe(t, challengeSession(v.dialect, v.challenge, v.productId), v.option !== undefined ? { productId: v.option } : {})
    assert.equal(completed, true)
    assert.deepEqual(payloadOf(received, 'QRY'), [v.answer])
    const q = received.find((e) => e.kind === 'command' && e.command.verb === 'QRY')
    assert.equal(q?.kind === 'command' && q.command.args[0], v.option ?? v.productId)
  })
}

test('an MD5 login is answered from the live salt and --password (auth.md vector)', async (t) => {
  const d = 7
  const events = scopeEvents([
    C('VER 1 MSNP7 CVR0\r\n', d), S('VER 1 MSNP7\r\n', d), C('INF 2\r\n', d), S('INF 2 MD5\r\n', d),
    C('USR 3 MD5 I alice@example.com\r\n', d), S('USR 3 MD5 S 1118234567.30312\r\n', d),
    C('USR 4 MD5 S 00000000000000000000000000000000\r\n', d), S('USR 4 OK alice@example.com Alice%20A. 1\r\n', d),
    C('OUT\r\n', d),
  ])
  const { received } = await replayAgainstServe(t, events, { password: { 'ALICE@example.com': 'tr0ub4dor' } })
  const usr = received.flatMap((e) => e.kind === 'command' && e.command.verb === 'USR' ? [e.command.args.join(' ')] : [])
  assert.deepEqual(usr, ['MD5 I alice@example.com', 'MD5 S f651d58e332e28da6917fe07d1c8bfc9'])
})

test('an SSO login uses --ticket and computes the MBI response from --proof-key and the live nonce', async (t) => {
  const { received } = await replayAgainstServe(t, challengeSession(15, '11533365622852247127', 'PROD0113H11T8$X_'), {
    ticket: 't=fresh&p=ticket', proofKey: 'BRIfLDlGU2BteoeUoa67yNXi7/wJFiMw',
  })
  const usr = received.flatMap((e) => e.kind === 'command' && e.command.verb === 'USR' && e.command.args[1] === 'S' ? [e.command.args] : [])
  assert.equal(usr.length, 1)
  const [, , ticket, response] = usr[0]!
  assert.equal(ticket, 't=fresh&p=ticket')
  const blob = Buffer.from(response ?? '', 'base64')
  assert.equal(blob.length, 128)
  // the HMAC of the nonce (auth.md 3.1 vector H) sits after the header and the IV
  assert.equal(blob.subarray(36, 56).toString('hex'), '360b5b183efbb0c735ceb58c3a9b30911177d78e')
  assert.deepEqual(payloadOf(received, 'QRY'), ['f086d1ded067186deca8dba2231602cf'])
})

/** A plain-HTTP login server: a Passport 1.4 nexus and login URL, and an RST endpoint. */
async function loginServer(t: T): Promise<{ base: string; seen: { url: string; authorization?: string; body: string }[] }> {
  const seen: { url: string; authorization?: string; body: string }[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      seen.push({ url: req.url ?? '', ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}), body })
      const host = req.headers.host ?? ''
      if (req.url === '/rdr/pprdr.asp') {
        res.writeHead(200, { PassportURLs: `DARealm=Passport.Net,DALogin=${host}/login2.srf,DAReg=x` }).end()
      } else if (req.url === '/login2.srf') {
        const ok = /sign-in=alice%40example\.com,pwd=s3cret,/.test(req.headers.authorization ?? '')
        if (ok) res.writeHead(200, { 'Authentication-Info': "Passport1.4 da-status=success,tname=MSPAuth,from-PP='t=live-ticket&p=live-profile',ru=x" }).end()
        else res.writeHead(401, { 'WWW-Authenticate': 'Passport1.4 da-status=failed,cbtxt=The%20password%20is%20wrong' }).end()
      } else if (req.url === '/RST.srf') {
        const ok = body.includes('<wsse:Username>alice@example.com</wsse:Username>') && body.includes('<wsse:Password>s3cret</wsse:Password>')
        res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/xml' }).end(ok ? rstAnswer() : '<S:Fault><faultstring>bad</faultstring></S:Fault>')
      } else res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const a = server.address()
  return { base: `http://${HOST}:${typeof a === 'object' && a !== null ? a.port : 0}`, seen }
}

function rstAnswer(): string {
  const token = (address: string, ticket: string, secret: string): string =>
    `<wst:RequestSecurityTokenResponse><wst:TokenType>urn:passport:compact</wst:TokenType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>${address}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
    `<wst:RequestedSecurityToken><wsse:BinarySecurityToken Id="Compact1">${ticket}</wsse:BinarySecurityToken></wst:RequestedSecurityToken>` +
    `<wst:RequestedProofToken><wst:BinarySecret>${secret}</wst:BinarySecret></wst:RequestedProofToken></wst:RequestSecurityTokenResponse>`
  return `<?xml version="1.0"?><S:Envelope><S:Body><wst:RequestSecurityTokenResponseCollection>${token('http://Passport.NET/tb', 'tb-token', 'AAAA')}${token('messengerclear.live.com', 't=sso-ticket&amp;p=sso-profile', 'BRIfLDlGU2BteoeUoa67yNXi7/wJFiMw')}</wst:RequestSecurityTokenResponseCollection></S:Body></S:Envelope>`
}

test('a TWN login through --login-url: the nexus is followed and the fresh ticket is sent', async (t) => {
  const login = await loginServer(t)
  const { received } = await replayAgainstServe(t, challengeSession(8, '15570131571988941333', 'msmsgs@msnmsgr.com'), { loginUrl: `${login.base}/rdr/pprdr.asp`, password: 's3cret' })
  const usr = received.flatMap((e) => e.kind === 'command' && e.command.verb === 'USR' && e.command.args[1] === 'S' ? [e.command.args[2]] : [])
  assert.deepEqual(usr, ['t=live-ticket&p=live-profile'])
  assert.deepEqual(login.seen.map((s) => s.url), ['/rdr/pprdr.asp', '/login2.srf'])
  // the server's TWN S parameters went to Passport with the account
  assert.match(login.seen[1]!.authorization ?? '', /^Passport1\.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=alice%40example\.com,pwd=s3cret,lc=1033,id=507,/)
})

test('an SSO login through --login-url: ticket and proof key from the RST answer', async (t) => {
  const login = await loginServer(t)
  const { received } = await replayAgainstServe(t, challengeSession(15, '11533365622852247127', 'PROD0113H11T8$X_'), { loginUrl: `${login.base}/RST.srf`, password: 's3cret' })
  const usr = received.flatMap((e) => e.kind === 'command' && e.command.verb === 'USR' && e.command.args[1] === 'S' ? [e.command.args] : [])
  assert.equal(usr[0]?.[2], 't=sso-ticket&p=sso-profile')
  assert.equal(Buffer.from(usr[0]?.[3] ?? '', 'base64').subarray(36, 56).toString('hex'), '360b5b183efbb0c735ceb58c3a9b30911177d78e')
  assert.match(login.seen[0]!.body, /<wsse:PolicyReference URI="MBI_KEY_OLD">/)
})

test('a refused login through --login-url ends the replay with the login server\'s reason', async (t) => {
  const login = await loginServer(t)
  const plan = planReplay(challengeSession(8, '15570131571988941333', 'msmsgs@msnmsgr.com'))
  const serve = await startReplayServer(plan, { listen: { host: HOST, port: 0 } })
  t.after(() => serve.close())
  const report = await replayClient(plan, { to: serve.address, loginUrl: `${login.base}/login2.srf`, password: 'wrong' }).done
  assert.equal(report.completed, false)
  assert.equal(report.differences.at(-1)?.what, 'credentials')
  assert.match(report.reason ?? '', /HTTP 401 \(The password is wrong\)/)
})
