/**
 * Login and challenge computations of MSNP (the reference's auth.md): the MD5 login response
 * (MSNP2-7), the CHL/QRY answers (MD5 rule for MSNP6-10, the MSNP11 algorithm from MSNP11 on),
 * and the MBI_KEY response of SSO logins (MSNP15+).
 *
 * Pure functions of their inputs: no I/O, no clock, no randomness (the SSO IV is a parameter).
 * They serve both ends: the lab's clients compute answers, the lab's server and the replay
 * feature check them.
 */
import { createCipheriv, createHash, createHmac } from 'node:crypto'

/** The product id/key pairs published by client projects (auth.md section 5). */
export const PRODUCT_KEYS: ReadonlyMap<string, string> = new Map([
  ['msmsgs@msnmsgr.com', 'Q1P7W2E4J9R8U3S5'],
  ['PROD0038W!61ZTF9', 'VT6PX?UQTM4WM%YR'],
  ['PROD0058#7IL2{QD', 'QHDCY@7R1TB6W?5B'],
  ['PROD0061VRRZH@4F', 'JXQ6J@TUOGYV@N0M'],
  ['PROD00504RLUG%WL', 'I2EBK%PYNLZL5_J4'],
  ['PROD0076ENE8*@AW', 'CEQJ8}OE0!WTSWII'],
  ['PROD0090YUAUV{2B', 'YMM8C_H7KCQ2S_KL'],
  ['PROD00974#MT*RC2', 'LMCVO*18PQJ3H!K3'],
  ['PROD0101{0RM?UBW', 'CFHUR$52U_{VIX5T'],
  ['PROD0104U6VVM{UJ', 'VK67B}379XYM5}$T'],
  ['PROD01065C%ZFN6F', 'O4BG@C7BWLYQX?5G'],
  ['PROD0113H11T8$X_', 'RG@XY*28Q5QHS%Q5'],
  ['PROD0114ES4Z%Q5W', 'PK}_A_0N_K%O?A9S'],
  ['PROD0119GSJUC$18', 'ILTXC!4IXB5FB*PX'],
  ['PROD0120PW!CCV9@', 'C1BX{V4W}Q3*10SM'],
])

/** The pair most MSNP6-10 clients used with the MD5 rule. */
export const MSMSGS_PRODUCT_ID = 'msmsgs@msnmsgr.com'
export const MSMSGS_PRODUCT_KEY = 'Q1P7W2E4J9R8U3S5'

const md5hex = (s: string | Buffer): string => createHash('md5').update(s).digest('hex')

/** MD5 login response (MSNP2-7): lowercase hex MD5 of the salt followed by the password. */
export function md5LoginResponse(salt: string, password: string): string {
  return md5hex(Buffer.concat([Buffer.from(salt, 'latin1'), Buffer.from(password, 'latin1')]))
}

/** QRY answer for MSNP6-10: lowercase hex MD5 of the challenge followed by the product key. */
export function qryMd5(challenge: string, productKey: string = MSMSGS_PRODUCT_KEY): string {
  return md5hex(Buffer.from(challenge + productKey, 'latin1'))
}

const MASK = 0x7fffffffn

/** QRY answer for MSNP11 and later (auth.md section 4.2). */
export function qryMsnp11(challenge: string, productId: string, productKey: string): string {
  const digest = createHash('md5').update(Buffer.from(challenge + productKey, 'latin1')).digest()
  const orig = [0, 1, 2, 3].map((i) => digest.readUInt32LE(i * 4))
  const m = orig.map((d) => BigInt(d) & MASK) as [bigint, bigint, bigint, bigint]

  let s = challenge + productId
  if (s.length % 8 !== 0) s += '0'.repeat(8 - (s.length % 8))
  const sb = Buffer.from(s, 'latin1')
  const words: bigint[] = []
  for (let i = 0; i + 4 <= sb.length; i += 4) words.push(BigInt(sb.readUInt32LE(i)))

  let high = 0n
  let low = 0n
  for (let i = 0; i + 1 < words.length; i += 2) {
    let t = (words[i]! * 0x0e79a9c1n) % MASK
    t = (m[0] * (t + low) + m[1]) % MASK
    high += t
    t = (words[i + 1]! + t) % MASK
    low = (m[2] * t + m[3]) % MASK
    high += low
  }
  low = (low + m[1]) % MASK
  high = (high + m[3]) % MASK

  const out = Buffer.alloc(16)
  const lo = Number(low)
  const hi = Number(high)
  out.writeUInt32LE((orig[0]! ^ lo) >>> 0, 0)
  out.writeUInt32LE((orig[1]! ^ hi) >>> 0, 4)
  out.writeUInt32LE((orig[2]! ^ lo) >>> 0, 8)
  out.writeUInt32LE((orig[3]! ^ hi) >>> 0, 12)
  return out.toString('hex')
}

/**
 * The QRY answer a server expects for `productId` in `dialect`: the MD5 rule up to MSNP10, the
 * MSNP11 algorithm after. Null when the product id is not a known one.
 */
export function expectedQry(dialect: number, challenge: string, productId: string): string | null {
  const key = PRODUCT_KEYS.get(productId)
  if (key === undefined) return null
  return dialect <= 10 ? qryMd5(challenge, key) : qryMsnp11(challenge, productId, key)
}

/** SSO key derivation (auth.md 3.1 step 1): 24 bytes from the proof key and a label. */
export function deriveSsoKey(key: Buffer, label: string): Buffer {
  const msg = Buffer.from('WS-SecureConversation' + label, 'latin1')
  const hmac = (data: Buffer): Buffer => createHmac('sha1', key).update(data).digest()
  const h1 = hmac(msg)
  const h2 = hmac(Buffer.concat([h1, msg]))
  const h3 = hmac(h1)
  const h4 = hmac(Buffer.concat([h3, msg]))
  return Buffer.concat([h2, h4.subarray(0, 4)])
}

/**
 * The MBI_KEY response of an SSO login (auth.md 3.1): base64 of the 128-byte blob built from the
 * proof key (base64 `BinarySecret`), the server's nonce and an 8-byte IV.
 */
export function mbiKeyResponse(proofKeyBase64: string, nonce: string, iv: Buffer): string {
  const key = Buffer.from(proofKeyBase64, 'base64')
  const k2 = deriveSsoKey(key, 'SESSION KEY HASH')
  const k3 = deriveSsoKey(key, 'SESSION KEY ENCRYPTION')
  const n = Buffer.from(nonce, 'latin1')
  const hash = createHmac('sha1', k2).update(n).digest()
  const cipher = createCipheriv('des-ede3-cbc', k3, iv)
  cipher.setAutoPadding(false)
  const plain = Buffer.concat([n, Buffer.alloc(8, 8)])
  const padded = plain.length % 8 === 0 ? plain : Buffer.concat([plain, Buffer.alloc(8 - (plain.length % 8), 8)])
  const encrypted = Buffer.concat([cipher.update(padded), cipher.final()])
  const head = Buffer.alloc(28)
  const fields = [28, 1, 0x6603, 0x8004, 8, 20, encrypted.length]
  fields.forEach((v, i) => head.writeUInt32LE(v, i * 4))
  return Buffer.concat([head, iv, hash, encrypted]).toString('base64')
}
