/**
 * Fresh credentials for a client replay of a TWN or SSO login (auth.md sections 2 and 3): a
 * Passport 1.4 login (TWN, MSNP8-14) or an RST SOAP request (SSO, MSNP15+) against the login
 * server named by `--login-url`. Revival servers serve these over plain HTTP; https URLs work
 * too. Failures are returned as errors with a readable message, never thrown past the caller.
 */
import http from 'node:http'
import https from 'node:https'

export interface LoginResult { ticket: string; proofKey?: string }

interface HttpReply { status: number; headers: http.IncomingHttpHeaders; body: string }

const MAX_BODY = 1024 * 1024

function request(url: URL, init: { method: string; headers: Record<string, string>; body?: string }, timeoutMs: number): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http
    const req = mod.request(url, { method: init.method, headers: init.headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_BODY) { req.destroy(new Error('login reply too large')); return }
        chunks.push(c)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)))
    req.on('error', reject)
    if (init.body !== undefined) req.write(init.body)
    req.end()
  })
}

const header = (h: http.IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name.toLowerCase()]
  return Array.isArray(v) ? v.join(', ') : v
}

/**
 * Passport 1.4 (TWN): GET the login URL with `Authorization: Passport1.4 ...` carrying the
 * account, the password and the server's `USR TWN S` parameters. A nexus answer
 * (`PassportURLs: DALogin=...`) and 302 redirects are followed, a few times at most.
 */
export async function passportLogin(loginUrl: string, account: string, password: string, twnParams: string, timeoutMs = 15_000): Promise<LoginResult> {
  let url = new URL(loginUrl)
  for (let hop = 0; hop < 5; hop++) {
    const ru = /(?:^|,)ru=([^,]*)/.exec(twnParams)?.[1] ?? 'http%3A%2F%2Fmessenger%2Emsn%2Ecom'
    const auth = `Passport1.4 OrgVerb=GET,OrgURL=${ru},sign-in=${encodeURIComponent(account)},pwd=${encodeURIComponent(password)},${twnParams}`
    const reply = await request(url, { method: 'GET', headers: { Authorization: auth, 'User-Agent': 'MSMSGS', 'Cache-Control': 'no-cache' } }, timeoutMs)
    const info = header(reply.headers, 'authentication-info')
    const fromPP = info === undefined ? null : /from-PP='([^']*)'/.exec(info)?.[1] ?? null
    if (reply.status === 200 && fromPP !== null) return { ticket: fromPP }
    const urls = header(reply.headers, 'passporturls')
    const daLogin = urls === undefined ? null : /DALogin=([^,\s]+)/.exec(urls)?.[1] ?? null
    if (daLogin !== null) { url = new URL(/^https?:\/\//.test(daLogin) ? daLogin : `${url.protocol}//${daLogin}`); continue }
    const location = header(reply.headers, 'location')
    if (reply.status >= 300 && reply.status < 400 && location !== undefined) { url = new URL(location, url); continue }
    const www = header(reply.headers, 'www-authenticate') ?? ''
    const why = /cbtxt=([^,]*)/.exec(www)?.[1]
    throw new Error(`Passport login at ${url.host} failed: HTTP ${reply.status}${why !== undefined ? ` (${decodeURIComponent(why)})` : ''}`)
  }
  throw new Error('Passport login: too many redirects')
}

const xmlEscape = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
const xmlUnescape = (s: string): string => s
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
  .replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d))).replace(/&amp;/g, '&')

function rstEnvelope(account: string, password: string, policy: string): string {
  const token = (id: number, address: string, ref?: string): string =>
    `<wst:RequestSecurityToken Id="RST${id}"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType>` +
    `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>${address}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
    (ref === undefined ? '' : `<wsse:PolicyReference URI="${xmlEscape(ref)}"></wsse:PolicyReference>`) + '</wst:RequestSecurityToken>'
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" ' +
    'xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" ' +
    'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" ' +
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing" xmlns:wssc="http://schemas.xmlsoap.org/ws/2004/04/sc" ' +
    'xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust"><Header>' +
    '<ps:AuthInfo xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="PPAuthInfo">' +
    '<ps:HostingApp>{7108E71A-9926-4FCB-BCC9-9A9D3F32E423}</ps:HostingApp><ps:BinaryVersion>4</ps:BinaryVersion>' +
    '<ps:UIVersion>1</ps:UIVersion><ps:Cookies></ps:Cookies><ps:RequestParams>AQAAAAIAAABsYwQAAAAxMDMz</ps:RequestParams></ps:AuthInfo>' +
    `<wsse:Security><wsse:UsernameToken Id="user"><wsse:Username>${xmlEscape(account)}</wsse:Username>` +
    `<wsse:Password>${xmlEscape(password)}</wsse:Password></wsse:UsernameToken></wsse:Security></Header>` +
    '<Body><ps:RequestMultipleSecurityTokens xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="RSTS">' +
    token(0, 'http://Passport.NET/tb') + token(1, 'messengerclear.live.com', policy) +
    '</ps:RequestMultipleSecurityTokens></Body></Envelope>'
}

/**
 * RST SOAP (SSO): request the `messengerclear.live.com` token with the server's policy; returns
 * the ticket (`t=...&p=...`) and the proof key (base64 `BinarySecret`) of that token.
 */
export async function rstLogin(loginUrl: string, account: string, password: string, policy: string, timeoutMs = 15_000): Promise<LoginResult> {
  const url = new URL(loginUrl)
  const reply = await request(url, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body: rstEnvelope(account, password, policy) }, timeoutMs)
  if (reply.status !== 200) throw new Error(`RST login at ${url.host} failed: HTTP ${reply.status}`)
  const responses = reply.body.split(/<(?:\w+:)?RequestSecurityTokenResponse[\s>]/).slice(1)
  const pick = responses.find((r) => r.includes('messengerclear.live.com')) ?? responses[1] ?? responses[0]
  if (pick === undefined) {
    const fault = /<(?:\w+:)?(?:faultstring|text)[^>]*>([^<]*)</i.exec(reply.body)?.[1]
    throw new Error(`RST login at ${url.host} failed${fault !== undefined ? `: ${fault}` : ': no security token in the answer'}`)
  }
  const ticket = /<(?:\w+:)?BinarySecurityToken[^>]*>([^<]*)</.exec(pick)?.[1]
  if (ticket === undefined) throw new Error(`RST login at ${url.host}: the messenger token has no ticket`)
  const secret = /<(?:\w+:)?BinarySecret[^>]*>([^<]*)</.exec(pick)?.[1]
  return secret === undefined ? { ticket: xmlUnescape(ticket) } : { ticket: xmlUnescape(ticket), proofKey: secret.trim() }
}
