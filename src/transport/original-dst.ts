/**
 * The original destination of a connection the firewall redirected to msnscope (iptables or
 * nftables REDIRECT/DNAT), from the native helper built at install time (native/original_dst.c).
 */
import { createRequire } from 'node:module'
import type net from 'node:net'
import os from 'node:os'
import { MsnscopeError } from '../errors.js'

interface Native { originalDst(fd: number, family: number): { address: string; port: number } }

let native: Native | null | undefined

function load(): Native | null {
  if (native !== undefined) return native
  try {
    native = createRequire(import.meta.url)('../../build/Release/original_dst.node') as Native
  } catch {
    native = null
  }
  return native
}

/** Throws a MsnscopeError a person can act on when transparent mode cannot work here. */
export function requireOriginalDst(): void {
  if (process.platform !== 'linux') throw new MsnscopeError('EPLATFORM', 'transparent mode needs Linux (SO_ORIGINAL_DST); use --mode socks5 or the explicit proxy elsewhere')
  if (load() === null) throw new MsnscopeError('EPLATFORM', 'transparent mode needs msnscope\'s native helper, which was not built: run `npm rebuild msnscope` (or `npm run install` in a checkout) with a C compiler and Node.js headers installed')
}

/** Where the client meant to go, or null when the connection was not redirected (or cannot tell). */
export function originalDestination(socket: net.Socket): { host: string; port: number } | null {
  const n = load()
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (n === null || typeof fd !== 'number' || fd < 0) return null
  try {
    const family = socket.localAddress !== undefined && socket.localAddress.includes(':') && !socket.localAddress.startsWith('::ffff:') ? 6 : 4
    const d = n.originalDst(fd, family)
    return { host: d.address, port: d.port }
  } catch {
    return null
  }
}

/**
 * True when `d` is msnscope's own listener (`listening`, as `server.address()` gives it): a
 * connection that reached it without being redirected has that as its "original" destination.
 */
export function isOwnListener(d: { host: string; port: number }, listening: { address: string; port: number }): boolean {
  if (d.port !== listening.port) return false
  const host = d.host.startsWith('::ffff:') && d.host.includes('.') ? d.host.slice(7) : d.host
  if (host === 'localhost') return true
  if (listening.address !== '0.0.0.0' && listening.address !== '::') return listening.address === host || listening.address === d.host
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === host))
}
