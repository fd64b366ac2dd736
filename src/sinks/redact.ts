/**
 * Secrets out of saved files: MD5 login hashes, Passport tickets, SSO tickets and MBI proofs,
 * circle tickets, switchboard cookies, the authentication headers of the login profile and the
 * AuthCookie of file-transfer invitations.
 * Each secret is replaced by a pseudonym of the same length and shape (letters stay letters,
 * digits stay digits), the same within a run, so that saved files keep their byte counts and a
 * cookie in XFR still matches the one in the switchboard's USR.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { MsnpDecoder } from '../protocol/decoder.js'
import { encodeCommand } from '../protocol/encoder.js'
import type { CommandEvent } from '../protocol/events.js'

const AUTH = new Set(['MD5', 'TWN', 'SSO', 'SHA'])
/** Login-profile headers that carry authentication material. */
const SECRET_HEADERS = ['MSPAuth', 'MSPProf', 'sid', 'kv', 'ClientIP', 'ClientPort']
/** File-transfer invitations carry the key to the peer's direct connection. */
const INVITE_SECRETS = ['AuthCookie']

export class Redactor {
  readonly #key: Buffer
  constructor(key: Buffer = randomBytes(32)) { this.#key = key }

  /**
   * A same-length, same-shape pseudonym of an ASCII secret. Tickets of the form `t=…&p=…` keep
   * their short keys, so a masked ticket still reads as one.
   */
  mask(secret: string): string {
    if (secret.includes('&') || /^[a-z]{1,3}=/.test(secret)) {
      return secret.split('&').map((part) => {
        const m = /^([a-z]{1,3}=)(.*)$/.exec(part)
        return m === null ? this.#mask(part) : m[1]! + this.#mask(m[2]!)
      }).join('&')
    }
    return this.#mask(secret)
  }

  #mask(secret: string): string {
    const h = createHmac('sha256', this.#key).update(secret).digest()
    let out = ''
    for (let i = 0; i < secret.length; i++) {
      const c = secret.charCodeAt(i)
      const r = h.readUInt8(i % h.length) ^ (i >> 5)
      if (c >= 48 && c <= 57) out += String.fromCharCode(48 + (r % 10))
      else if (c >= 65 && c <= 90) out += String.fromCharCode(65 + (r % 26))
      else if (c >= 97 && c <= 122) out += String.fromCharCode(97 + (r % 26))
      else out += secret[i]
    }
    return out
  }

  /** Which args of a command are secret. */
  #secretArgs(cmd: CommandEvent): number[] {
    const a = cmd.args
    if (cmd.from === 'client') {
      if (cmd.verb === 'USR') {
        if (a.length >= 3 && AUTH.has(a[0]!) && (a[1] === 'S' || a[1] === 'A')) return a.slice(2).map((_, i) => i + 2).filter((i) => !a[i]!.startsWith('{'))
        if (a.length === 2 && !AUTH.has(a[0]!)) return [1]
      }
      if (cmd.verb === 'ANS' && a.length >= 3) return [1]
      return []
    }
    if (cmd.verb === 'XFR' && a[0] === 'SB' && a[2] === 'CKI' && a.length >= 4) return [3]
    if (cmd.verb === 'RNG' && a[2] === 'CKI' && a.length >= 4) return [3]
    return []
  }

  /** Other bytes standing for `cmd` (a rewritten copy), with the same secrets masked. */
  redactBytes(cmd: CommandEvent, bytes: Buffer): Buffer {
    const [other] = new MsnpDecoder(cmd.from, { dialect: cmd.dialect }).push(bytes)
    if (other === undefined || other.kind !== 'command' || other.raw.length !== bytes.length) return bytes
    return this.redact(other)?.raw ?? bytes
  }

  /** The command with its secrets masked (re-decoded from the masked bytes), or null when it has none. */
  redact(cmd: CommandEvent): CommandEvent | null {
    const idx = this.#secretArgs(cmd)
    let payload = cmd.payloadRaw
    const secretHeaders = cmd.verb !== 'MSG' || payload === null ? null
      : cmd.from === 'server' && payload.includes('x-msmsgsprofile') ? SECRET_HEADERS
        : payload.includes('x-msmsgsinvite') ? INVITE_SECRETS : null
    if (secretHeaders !== null && payload !== null) {
      let text = payload.toString('latin1')
      for (const h of secretHeaders) {
        text = text.replace(new RegExp(`^(${h}:[ \\t]*)([^\\r\\n]*)`, 'm'), (_m, head: string, value: string) => head + this.mask(value))
      }
      const masked = Buffer.from(text, 'latin1')
      payload = masked.equals(payload) ? payload : masked
    }
    if (idx.length === 0 && payload === cmd.payloadRaw) return null
    const args = cmd.args.map((v, i) => (idx.includes(i) ? this.mask(v) : v))
    const bytes = encodeCommand({ verb: cmd.verb, trId: cmd.trId, args, payloadRaw: payload, ...(cmd.wire !== undefined ? { wire: cmd.wire } : {}) })
    const [again] = new MsnpDecoder(cmd.from, { dialect: cmd.dialect }).push(bytes)
    if (again === undefined || again.kind !== 'command') return null
    again.offset = cmd.offset
    return again
  }
}
