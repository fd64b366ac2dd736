/**
 * A generator of realistic MSNP traffic for benchmarks: the byte streams a busy notification
 * server and its switchboards carry in each direction (presence, personal messages, challenges,
 * keep-alives, chat text in several scripts, typing, nudges, invitations and P2P data chunks
 * with binary bodies). Deterministic for a given seed.
 */
import { encodeCommand } from '../src/protocol/encoder.js'

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'olivia', 'yuki', 'sofia', 'lars']
const DOMAINS = ['hotmail.com', 'msn.com', 'example.com', 'hotmail.fr', 'passport.com']
const PHRASES = ['hey', 'hi :)', 'what\'s up?', 'lol', 'brb', 'did you see the game last night?', 'sure, 8pm works for me',
  'ça va ? on se voit demain à midi', 'schönes Wochenende!', '今日はどうでしたか？', 'Привет, как дела?', 'I\'ll send you the file in a minute',
  'can you check your email?', 'gtg, talk later', 'haha that\'s so funny', 'the server is down again...']
const STATUSES = ['NLN', 'AWY', 'BSY', 'IDL', 'BRB', 'PHN', 'LUN']

export class Rng {
  #s: number
  constructor(seed: number) { this.#s = seed >>> 0 || 1 }
  next(): number { let s = this.#s; s ^= s << 13; s ^= s >>> 17; s ^= s << 5; this.#s = s >>> 0; return this.#s }
  int(n: number): number { return this.next() % n }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]! }
}

const account = (r: Rng): string => `${r.pick(NAMES)}${r.int(100)}@${r.pick(DOMAINS)}`
const displayName = (r: Rng): string => encodeURIComponent(`${r.pick(NAMES)} ${r.pick(['', '(L)', '♪', '@ work', 'xXx'])}`.trim())

/** A person on the network: their client sends the same name and message format every time. */
interface Person { account: string; name: string; format: string }

const FONTS = ['Segoe%20UI', 'Arial', 'Tahoma', 'Comic%20Sans%20MS', 'Verdana', 'MS%20Shell%20Dlg']
function people(r: Rng, n: number): Person[] {
  return Array.from({ length: n }, () => ({
    account: account(r), name: displayName(r),
    format: `FN=${r.pick(FONTS)}; EF=${r.pick(['', 'B', 'I', 'BU'])}; CO=${r.int(0xffffff).toString(16)}; CS=${r.pick(['0', '1', '80'])}; PF=22`,
  }))
}

const mime = (headers: string, body: string | Buffer): Buffer =>
  Buffer.concat([Buffer.from(`MIME-Version: 1.0\r\n${headers}\r\n`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body])

function textPayload(r: Rng, p: Person): Buffer {
  return mime(`Content-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: ${p.format}\r\n`, r.pick(PHRASES))
}
const typingPayload = (who: string): Buffer => mime(`Content-Type: text/x-msmsgscontrol\r\nTypingUser: ${who}\r\n`, '\r\n')
const nudgePayload = (): Buffer => mime('Content-Type: text/x-msnmsgr-datacast\r\n', 'ID: 1\r\n\r\n')

function p2pPayload(r: Rng, to: string): Buffer {
  const size = 200 + r.int(1002)
  const header = Buffer.alloc(48)
  header.writeUInt32LE(r.next(), 0)
  header.writeUInt32LE(r.next(), 4)
  header.writeUInt32LE(r.int(100000), 8)
  header.writeUInt32LE(size * 10, 16)
  header.writeUInt32LE(size, 24)
  header.writeUInt32LE(0x20, 28)
  header.writeUInt32LE(r.next(), 32)
  const body = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4) body.writeUInt32LE(r.next(), i - (i + 4 > size ? i + 4 - size : 0))
  const footer = Buffer.from([0, 0, 0, 1])
  return Buffer.concat([Buffer.from(`MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: ${to}\r\n\r\n`), header, body, footer])
}

function ubx(r: Rng): Buffer {
  return Buffer.from(`<Data><PSM>${r.pick(PHRASES).replace(/[<&>]/g, '')}</PSM><CurrentMedia></CurrentMedia></Data>`, 'utf8')
}

/** One command of a busy session in the given direction. */
function serverCommand(r: Rng, tr: { n: number }, folk: Person[]): Buffer {
  const k = r.int(100)
  const p = r.pick(folk)
  const who = p.account
  if (k < 30) return encodeCommand({ verb: 'MSG', trId: null, args: [who, p.name], payloadRaw: r.int(3) === 0 ? typingPayload(who) : textPayload(r, p) })
  if (k < 36) return encodeCommand({ verb: 'MSG', trId: null, args: [who, p.name], payloadRaw: p2pPayload(r, who) })
  if (k < 38) return encodeCommand({ verb: 'MSG', trId: null, args: [who, p.name], payloadRaw: nudgePayload() })
  if (k < 55) return encodeCommand({ verb: 'NLN', trId: null, args: [r.pick(STATUSES), who, p.name, String(0x50000000 + r.int(1 << 20)), '0'] })
  if (k < 62) return encodeCommand({ verb: 'ILN', trId: tr.n, args: [r.pick(STATUSES), who, p.name, String(r.int(1 << 30))] })
  if (k < 68) return encodeCommand({ verb: 'FLN', trId: null, args: [who] })
  if (k < 76) return encodeCommand({ verb: 'UBX', trId: null, args: [who], payloadRaw: ubx(r) })
  if (k < 86) return encodeCommand({ verb: 'ACK', trId: ++tr.n, args: [] })
  if (k < 90) return encodeCommand({ verb: 'JOI', trId: null, args: [who, p.name, String(r.int(1 << 30))] })
  if (k < 92) return encodeCommand({ verb: 'CHL', trId: 0, args: [String(10_000_000_000_000 + r.int(1e9))] })
  if (k < 95) return encodeCommand({ verb: 'QNG', trId: null, args: [String(r.int(60))] })
  if (k < 97) return encodeCommand({ verb: 'XFR', trId: ++tr.n, args: ['SB', `192.0.2.${r.int(250)}:1863`, 'CKI', `${r.next()}.${r.next()}.${r.int(99999)}`] })
  return encodeCommand({ verb: 'RNG', trId: null, args: [String(r.next()), `192.0.2.${r.int(250)}:1863`, 'CKI', `${r.next()}.${r.int(99999)}`, who, p.name] })
}

function clientCommand(r: Rng, tr: { n: number }, folk: Person[]): Buffer {
  const k = r.int(100)
  const tid = ++tr.n
  const p = r.pick(folk)
  if (k < 35) return encodeCommand({ verb: 'MSG', trId: tid, args: [r.pick(['A', 'N', 'U'])], payloadRaw: textPayload(r, p) })
  if (k < 50) return encodeCommand({ verb: 'MSG', trId: tid, args: ['U'], payloadRaw: typingPayload(p.account) })
  if (k < 57) return encodeCommand({ verb: 'MSG', trId: tid, args: ['D'], payloadRaw: p2pPayload(r, account(r)) })
  if (k < 65) return encodeCommand({ verb: 'PNG', trId: null, args: [] })
  if (k < 72) return encodeCommand({ verb: 'CHG', trId: tid, args: [r.pick(STATUSES), String(r.int(1 << 30)), '0'] })
  if (k < 78) return encodeCommand({ verb: 'UUX', trId: tid, args: [], payloadRaw: ubx(r) })
  if (k < 84) return encodeCommand({ verb: 'QRY', trId: tid, args: ['PROD0090YUAUV{2B'], payloadRaw: Buffer.from('0123456789abcdef0123456789abcdef') })
  if (k < 90) return encodeCommand({ verb: 'XFR', trId: tid, args: ['SB'] })
  if (k < 95) return encodeCommand({ verb: 'CAL', trId: tid, args: [account(r)] })
  return encodeCommand({ verb: 'USR', trId: tid, args: [account(r), `${r.next()}.${r.next()}.${r.int(99999)}`] })
}

/** A stream of at least `bytes` bytes of one direction, and the number of commands in it. */
export function generateStream(from: 'client' | 'server', bytes: number, seed = 1): { data: Buffer; commands: number } {
  const r = new Rng(seed)
  const tr = { n: r.int(1000) }
  // the clients of a busy server: a few hundred people, each with their own name and format
  const folk = people(r, 400)
  const parts: Buffer[] = []
  let size = 0
  let commands = 0
  while (size < bytes) {
    const b = from === 'server' ? serverCommand(r, tr, folk) : clientCommand(r, tr, folk)
    parts.push(b)
    size += b.length
    commands++
  }
  return { data: Buffer.concat(parts, size), commands }
}
