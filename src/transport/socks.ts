/**
 * The SOCKS side of `proxy --mode socks5`: reads a SOCKS5 (RFC 1928, no authentication) or
 * SOCKS4/4a greeting and CONNECT request from the bytes a client sent, and builds the replies.
 * Pure: the caller owns the socket.
 */
export interface SocksRequest {
  version: 4 | 5
  host: string
  port: number
  /** bytes the client sent after the request (its first application bytes) */
  rest: Buffer
}

export type SocksStep =
  | { need: true; reply?: Buffer }
  | { request: SocksRequest; reply?: Buffer }
  | { error: string; reply: Buffer }

/** SOCKS5 reply codes */
export const SOCKS5 = { SUCCEEDED: 0, FAILURE: 1, NETWORK_UNREACHABLE: 3, HOST_UNREACHABLE: 4, REFUSED: 5, TTL: 6, COMMAND: 7, ADDRESS_TYPE: 8 } as const

/** Incremental: call with everything received so far; `greeted` says whether the SOCKS5 method reply was sent. */
export function parseSocks(buf: Buffer, greeted: boolean): SocksStep {
  if (buf.length === 0) return { need: true }
  const version = buf.readUInt8(0)
  if (version === 4) return parseSocks4(buf)
  if (version !== 5) return { error: `not a SOCKS client (first byte 0x${version.toString(16)})`, reply: Buffer.alloc(0) }
  let at = 0
  if (!greeted) {
    if (buf.length < 2) return { need: true }
    const n = buf.readUInt8(1)
    if (buf.length < 2 + n) return { need: true }
    const methods = buf.subarray(2, 2 + n)
    if (!methods.includes(0)) return { error: 'the client offers no method without authentication', reply: Buffer.from([5, 0xff]) }
    at = 2 + n
    const step = parseSocks5Request(buf.subarray(at))
    if ('need' in step) return { need: true, reply: Buffer.from([5, 0]) }
    return { ...step, reply: Buffer.concat([Buffer.from([5, 0]), step.reply ?? Buffer.alloc(0)]) }
  }
  return parseSocks5Request(buf)
}

function parseSocks5Request(buf: Buffer): SocksStep {
  if (buf.length < 4) return { need: true }
  if (buf.readUInt8(0) !== 5) return { error: 'bad SOCKS5 request version', reply: socks5Reply(SOCKS5.FAILURE) }
  const cmd = buf.readUInt8(1)
  const atyp = buf.readUInt8(3)
  let host: string
  let at: number
  if (atyp === 1) {
    if (buf.length < 10) return { need: true }
    host = [...buf.subarray(4, 8)].join('.')
    at = 8
  } else if (atyp === 3) {
    if (buf.length < 5) return { need: true }
    const len = buf.readUInt8(4)
    if (buf.length < 5 + len + 2) return { need: true }
    host = buf.subarray(5, 5 + len).toString('latin1')
    at = 5 + len
  } else if (atyp === 4) {
    if (buf.length < 22) return { need: true }
    const parts: string[] = []
    for (let i = 0; i < 8; i++) parts.push(buf.readUInt16BE(4 + i * 2).toString(16))
    host = parts.join(':')
    at = 20
  } else return { error: `SOCKS5 address type ${atyp} is not supported`, reply: socks5Reply(SOCKS5.ADDRESS_TYPE) }
  const port = buf.readUInt16BE(at)
  if (cmd !== 1) return { error: `SOCKS5 command ${cmd} is not supported (CONNECT only)`, reply: socks5Reply(SOCKS5.COMMAND) }
  return { request: { version: 5, host, port, rest: buf.subarray(at + 2) } }
}

function parseSocks4(buf: Buffer): SocksStep {
  if (buf.length < 9) return { need: true }
  const cmd = buf.readUInt8(1)
  const port = buf.readUInt16BE(2)
  const ip = [...buf.subarray(4, 8)]
  const userEnd = buf.indexOf(0, 8)
  if (userEnd < 0) return buf.length > 1024 ? { error: 'SOCKS4 user id too long', reply: socks4Reply(false) } : { need: true }
  let host = ip.join('.')
  let end = userEnd + 1
  if (ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0) {
    // SOCKS4a: the host name follows the user id
    const nameEnd = buf.indexOf(0, end)
    if (nameEnd < 0) return buf.length > 2048 ? { error: 'SOCKS4a host name too long', reply: socks4Reply(false) } : { need: true }
    host = buf.subarray(end, nameEnd).toString('latin1')
    end = nameEnd + 1
  }
  if (cmd !== 1) return { error: `SOCKS4 command ${cmd} is not supported (CONNECT only)`, reply: socks4Reply(false) }
  return { request: { version: 4, host, port, rest: buf.subarray(end) } }
}

export function socks5Reply(code: number, bound?: { address: string; port: number }): Buffer {
  const out = Buffer.alloc(10)
  out.writeUInt8(5, 0)
  out.writeUInt8(code, 1)
  out.writeUInt8(1, 3)
  const parts = bound?.address.replace(/^::ffff:/, '').split('.').map(Number)
  if (parts !== undefined && parts.length === 4 && parts.every((p) => p >= 0 && p <= 255)) parts.forEach((p, i) => out.writeUInt8(p, 4 + i))
  out.writeUInt16BE(bound?.port ?? 0, 8)
  return out
}

export function socks4Reply(granted: boolean): Buffer {
  return Buffer.from([0, granted ? 0x5a : 0x5b, 0, 0, 0, 0, 0, 0])
}

/** The first bytes of an MSNP client: a verb (three capitals) then a space or a line end. */
export function looksLikeMsnp(first: Buffer): boolean {
  if (first.length < 4) return false
  const isCap = (c: number): boolean => c >= 65 && c <= 90
  const d = first.readUInt8(3)
  return isCap(first.readUInt8(0)) && isCap(first.readUInt8(1)) && isCap(first.readUInt8(2)) && (d === 0x20 || d === 0x0d || d === 0x0a)
}
