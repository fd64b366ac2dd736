/**
 * The embedded MSN lab server: a dispatch, a notification and a switchboard listener on one
 * host, speaking real MSNP (MSNP2-18) to real sockets. Any account may sign in with any
 * password (unless its configuration names one); contact lists and simulated contacts come
 * from the `users` option. The server refers clients onwards with its own listeners'
 * addresses, so a proxy in front of it sees every redirect.
 *
 * Promises: nothing a peer sends ends anything but that peer's connection; every accepted
 * socket is reported (`connection` event and `peers`) with its remote address before it is
 * served, and `close()` ends every connection and listener.
 */
import { EventEmitter } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { MsnscopeError } from '../errors.js'
import type { Limits } from '../protocol/decoder.js'
import { DEFAULT_LAB_USERS, Directory, simulatedPresence, type LabPresenceConfig, type LabUserConfig } from './directory.js'
import { LabHub, type ChallengePolicy } from './hub.js'
import { NsSession } from './ns.js'
import { SbSession } from './sb.js'
import { MsnpConnection } from './wire.js'

export type LabRole = 'DS' | 'NS' | 'SB'

/** Optional fields accept `undefined` (the default), so callers can forward their own options. */
export interface LabServerOptions {
  /** address to listen on (tests use 127.0.0.3) */
  host: string
  /** 0 or absent: an ephemeral port */
  dsPort?: number | undefined
  nsPort?: number | undefined
  sbPort?: number | undefined
  /** host written into XFR and RNG; default `host` (127.0.0.1 when host is a wildcard) */
  advertiseHost?: string | undefined
  /** dialects the server agrees to (default MSNP2-18) */
  dialects?: readonly number[] | undefined
  /** accounts, contact lists and simulated contacts (default alice, bob and carol) */
  users?: readonly LabUserConfig[] | undefined
  /** 'after-chg' (default): a CHL follows each sign-in's first CHG; 'manual': only `sendChallenge` */
  challenge?: ChallengePolicy | undefined
  limits?: Partial<Limits> | undefined
  /** output bytes queued for a peer that does not read before it is dropped (default 1 MiB) */
  maxOutputBytes?: number | undefined
  /** drop a connection silent for this long; 0 disables (default 10 minutes) */
  idleTimeoutMs?: number | undefined
  /** refuse (close at once) sockets this returns false for; they are still reported */
  allow?: ((peer: LabPeer) => boolean) | undefined
  /** sees every chunk a peer sends, as received (tests compare it with what clients sent) */
  tap?: ((peer: LabPeer, bytes: Buffer) => void) | undefined
}

export interface Endpoint { host: string; port: number }

/** One accepted socket. `closeReason` is set when it ends. */
export interface LabPeer {
  id: number
  role: LabRole
  remoteAddress: string
  remotePort: number
  localPort: number
  openedAt: Date
  refused: boolean
  closedAt?: Date
  closeReason?: string
}

export interface LabServerEvents {
  connection: [peer: LabPeer]
  'connection-closed': [peer: LabPeer]
}

const ALL_DIALECTS = Array.from({ length: 17 }, (_, i) => i + 2)

export class LabServer extends EventEmitter<LabServerEvents> {
  readonly ds: Endpoint
  readonly ns: Endpoint
  readonly sb: Endpoint
  readonly #peers: LabPeer[] = []
  readonly #open = new Map<Socket, Promise<string>>()
  readonly #listeners: Record<LabRole, Server>

  /** @internal use startLabServer */
  constructor(readonly hub: LabHub, listeners: Record<LabRole, Server>, endpoints: Record<LabRole, Endpoint>) {
    super()
    this.#listeners = listeners
    this.ds = endpoints.DS
    this.ns = endpoints.NS
    this.sb = endpoints.SB
  }

  /** Every socket accepted so far, in order (closed ones included). */
  get peers(): readonly LabPeer[] { return this.#peers }

  /** Accounts signed in on the notification server. */
  online(): string[] {
    return [...this.hub.sessions.values()].map((s) => s.user.account)
  }

  /**
   * Make an account appear with this presence without a connection (a status alone keeps the
   * simulated capabilities, object and personal message). Contacts watching it are notified.
   */
  setPresence(account: string, presence: string | LabPresenceConfig): void {
    if (typeof presence !== 'string') return this.hub.setSimulated(account, simulatedPresence(presence))
    const cur = this.hub.directory.find(account)?.simulated ?? null
    this.hub.setSimulated(account, { status: presence, caps: cur?.caps ?? '0', msnobj: cur?.msnobj ?? '0', psmData: cur?.psmData ?? null })
  }

  /** Send `CHL 0 <challenge>` to a signed-in account now; returns the challenge, null when not signed in. */
  sendChallenge(account: string, challenge?: string): string | null {
    const s = this.hub.sessions.get(account.toLowerCase())
    return s === undefined ? null : s.sendChallenge(challenge)
  }

  /** @internal */
  accept(role: LabRole, socket: Socket, options: LabServerOptions): void {
    const peer: LabPeer = {
      id: this.#peers.length + 1,
      role,
      remoteAddress: socket.remoteAddress ?? '?',
      remotePort: socket.remotePort ?? 0,
      localPort: socket.localPort ?? 0,
      openedAt: new Date(),
      refused: false,
    }
    this.#peers.push(peer)
    try {
      peer.refused = options.allow !== undefined && !options.allow(peer)
    } catch {
      peer.refused = true
    }
    let session: NsSession | SbSession | null = null
    const tap = options.tap
    if (tap !== undefined) socket.on('data', (bytes: Buffer) => tap(peer, bytes))
    const conn = new MsnpConnection(socket, {
      peer: 'client',
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
      idleTimeoutMs: options.idleTimeoutMs ?? 10 * 60 * 1000,
    }, {
      command: (cmd) => session?.command(cmd),
      malformed: (ev) => session?.malformed(ev),
    })
    this.#open.set(socket, conn.done)
    void conn.done.then((reason) => {
      this.#open.delete(socket)
      peer.closedAt = new Date()
      peer.closeReason = reason
      this.emit('connection-closed', peer)
    })
    this.emit('connection', peer)
    if (peer.refused) return conn.destroy('refused')
    session = role === 'SB' ? new SbSession(this.hub, conn) : new NsSession(this.hub, conn, role)
  }

  /** Close the listeners and every connection; resolves when all are closed. */
  async close(): Promise<void> {
    const open = [...this.#open.values()]
    for (const s of this.#open.keys()) s.destroy()
    await Promise.all(open)
    await Promise.all(Object.values(this.#listeners).map((l) => new Promise<void>((resolve) => {
      if (!l.listening) return resolve()
      l.close(() => resolve())
    })))
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const addr = server.address()
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port)
    })
  })
}

/** Start the lab server; resolves once the three listeners are up. */
export async function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const dialects = new Set(options.dialects ?? ALL_DIALECTS)
  for (const d of dialects) {
    if (!Number.isInteger(d) || d < 2 || d > 18) throw new MsnscopeError('EUSAGE', `the lab server speaks MSNP2 to MSNP18, not MSNP${d}`)
  }
  const hub = new LabHub(new Directory(options.users ?? DEFAULT_LAB_USERS), { dialects, challenge: options.challenge ?? 'after-chg' })
  const roles: LabRole[] = ['DS', 'NS', 'SB']
  const listeners = { DS: createServer(), NS: createServer(), SB: createServer() }
  const wanted: Record<LabRole, number> = { DS: options.dsPort ?? 0, NS: options.nsPort ?? 0, SB: options.sbPort ?? 0 }
  const endpoints = {} as Record<LabRole, Endpoint>
  try {
    for (const role of roles) endpoints[role] = { host: options.host, port: await listen(listeners[role], options.host, wanted[role]) }
  } catch (err) {
    for (const l of Object.values(listeners)) if (l.listening) l.close()
    const e = err as NodeJS.ErrnoException
    throw new MsnscopeError('ELISTEN', `lab server cannot listen on ${options.host}: ${e.message}`, { cause: err })
  }
  const wildcard = options.host === '0.0.0.0' || options.host === '::'
  const adv = options.advertiseHost ?? (wildcard ? '127.0.0.1' : options.host)
  hub.addresses.ds = `${adv}:${endpoints.DS.port}`
  hub.addresses.ns = `${adv}:${endpoints.NS.port}`
  hub.addresses.sb = `${adv}:${endpoints.SB.port}`
  const server = new LabServer(hub, listeners, endpoints)
  for (const role of roles) {
    listeners[role].on('connection', (socket) => server.accept(role, socket, options))
    listeners[role].on('error', () => {})
  }
  return server
}
