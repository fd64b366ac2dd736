/** Shared pieces of the gateway tests: a raw gateway client, a scriptable fake gateway, an event collector. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ScopeEvent } from '../../src/events.js'
import { parseMessengerHeader, type MessengerHeader } from '../../src/protocol/gateway.js'

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** the parsed X-MSN-Messenger header, null when absent */
  messenger: MessengerHeader | null
  text: string
}

export interface PostOptions {
  /** `Host:` (default host:port) */
  host?: string
  headers?: Record<string, string>
  localAddress?: string
  agent?: http.Agent | false
}

/** POST `path` (origin form, or an absolute URI when talking to a proxy) and read the whole answer. */
export function post(to: { host: string; port: number }, path: string, body: string | Buffer = '', o: PostOptions = {}): Promise<Answer> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: to.host, port: to.port, method: 'POST', path, agent: o.agent ?? false,
      ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
      headers: { Host: o.host ?? `${to.host}:${to.port}`, 'Content-Type': 'application/x-msn-messenger', 'Content-Length': bytes.length, ...o.headers },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const b = Buffer.concat(chunks)
        const m = res.headers['x-msn-messenger']
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8'), messenger: typeof m === 'string' ? parseMessengerHeader(m) : null })
      })
    })
    req.on('error', reject)
    req.end(bytes)
  })
}

export const OPEN_NS = '/gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com'
export const send = (sid: string): string => `/gateway/gateway.dll?SessionID=${sid}`
export const poll = (sid: string): string => `/gateway/gateway.dll?Action=poll&SessionID=${sid}`

/** Everything a hub emitted, with a way to wait for an event that may already have happened. */
export class Events {
  readonly all: ScopeEvent[] = []
  #waiters: { pred: (e: ScopeEvent) => boolean; resolve: (e: ScopeEvent) => void }[] = []

  readonly sink = (e: ScopeEvent): void => {
    this.all.push(e)
    for (const w of [...this.#waiters]) {
      if (w.pred(e)) {
        this.#waiters = this.#waiters.filter((x) => x !== w)
        w.resolve(e)
      }
    }
  }

  waitFor<K extends ScopeEvent['kind']>(kind: K, pred: (e: Extract<ScopeEvent, { kind: K }>) => boolean = () => true): Promise<Extract<ScopeEvent, { kind: K }>> {
    const test = (e: ScopeEvent): boolean => e.kind === kind && pred(e as Extract<ScopeEvent, { kind: K }>)
    const found = this.all.find(test)
    if (found !== undefined) return Promise.resolve(found as Extract<ScopeEvent, { kind: K }>)
    return new Promise((resolve) => this.#waiters.push({ pred: test, resolve: resolve as (e: ScopeEvent) => void }))
  }

  of<K extends ScopeEvent['kind']>(kind: K, conn?: string): Extract<ScopeEvent, { kind: K }>[] {
    return this.all.filter((e) => e.kind === kind && (conn === undefined || e.conn === conn)) as Extract<ScopeEvent, { kind: K }>[]
  }

  /** `from verb` of every command event of one connection. */
  commands(conn: string): string[] {
    return this.of('command', conn).map((e) => `${e.command.from === 'client' ? 'C' : 'S'} ${e.command.verb}`)
  }
}

export interface FakeRequest {
  path: string
  headers: http.IncomingHttpHeaders
  body: Buffer
  remoteAddress: string
  /** another request was being handled when this one arrived */
  overlapped: boolean
}

export type FakeHandler = (req: FakeRequest, res: http.ServerResponse) => void | Promise<void>

/** A gateway whose answers the test writes; records every request, and whether any overlapped. */
export async function startFakeGateway(host: string, handler: FakeHandler): Promise<{ address: { host: string; port: number }; requests: FakeRequest[]; close(): Promise<void> }> {
  const requests: FakeRequest[] = []
  let busy = 0
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r: FakeRequest = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), remoteAddress: req.socket.remoteAddress ?? '?', overlapped: busy > 0 }
      requests.push(r)
      busy++
      res.on('close', () => { busy-- })
      void Promise.resolve(handler(r, res)).catch(() => res.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()))
  const port = (server.address() as AddressInfo).port
  return {
    address: { host, port }, requests,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

/** Answer like a gateway: 200, X-MSN-Messenger, the body. */
export function gatewayAnswer(res: http.ServerResponse, sessionId: string, body: string | Buffer = '', extra = ''): void {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  res.writeHead(200, { 'X-MSN-Messenger': `SessionID=${sessionId}; GW-IP=127.0.0.3${extra}`, 'Content-Type': 'application/x-msn-messenger', 'Content-Length': b.length })
  res.end(b)
}
