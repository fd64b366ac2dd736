/**
 * MSNObject descriptors (`<msnobj Creator=".." Size=".." Type=".." .../>`): display pictures,
 * custom emoticons, winks, voice clips. They appear raw in P2P contexts and datacasts and
 * URL-encoded in command lines (CHG, ILN, NLN). Parsing never throws; `null` means "not an
 * MSNObject at all".
 */
import { parseXml, setKey } from './xml.js'

export interface MsnObject {
  creator?: string
  size?: number
  type?: number
  /** display-picture, custom-emoticon, ... for the Type values messages.md section 7 names */
  typeName?: string
  location?: string
  /** the Friendly attribute decoded (base64 of UTF-16LE, terminating NUL removed) */
  friendly?: string
  sha1d?: string
  sha1c?: string
  /** attributes beyond the standard ones (Stamp, AvatarID, contenttype, ...), as sent */
  extra?: Record<string, string>
  error?: string
}

export const MSNOBJECT_TYPES: Readonly<Record<number, string>> = {
  1: 'reserved', 2: 'custom-emoticon', 3: 'display-picture', 4: 'reserved', 5: 'background', 8: 'wink', 11: 'voice-clip',
}

const KNOWN = new Set(['creator', 'size', 'type', 'location', 'friendly', 'sha1d', 'sha1c'])

/** Strict enough for base64 as MSNP writes it; tolerant of missing padding. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Decode a base64 UTF-16LE friendly name, dropping the terminating NUL(s). */
export function decodeFriendly(b64: string): string | undefined {
  if (!BASE64.test(b64)) return undefined
  const s = Buffer.from(b64, 'base64').toString('utf16le')
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === 0) end--
  return s.slice(0, end)
}

const hexDigit = (c: number): number => c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

/** Percent-decoding that never throws: malformed escapes stay as written. */
export function safeDecodeURIComponent(s: string): string {
  let at = s.indexOf('%')
  if (at < 0) return s
  // ASCII escapes (Segoe%20UI) by hand; UTF-8 sequences go to decodeURIComponent
  let out = ''
  let last = 0
  while (at >= 0) {
    const hi = hexDigit(s.charCodeAt(at + 1)), lo = hexDigit(s.charCodeAt(at + 2))
    if (hi < 0 || lo < 0 || hi >= 8) return decodeSlow(s)
    out += s.slice(last, at) + String.fromCharCode(hi * 16 + lo)
    last = at + 3
    at = s.indexOf('%', last)
  }
  return out + s.slice(last)
}

function decodeSlow(s: string): string {
  try { return decodeURIComponent(s) } catch {
    return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => { try { return decodeURIComponent(m) } catch { return m } })
  }
}

const toNumber = (v: string): number | undefined => {
  const t = v.trim()
  if (t === '' || !/^-?\d+$/.test(t)) return undefined
  const n = Number(t)
  return Number.isSafeInteger(n) ? n : undefined
}

// <msnobj Creator="bob@example.net" Size="8712" Type="3" Location="TFR3A.dat" Friendly="AAA=" SHA1D="..." SHA1C="..."/>
/** Parse an MSNObject, raw or URL-encoded (`%3Cmsnobj%20...`). `null` when it is not one (e.g. `0`). */
export function parseMsnObject(text: string): MsnObject | null {
  let s = text.trim()
  if (s.length > 3 && s.charCodeAt(0) === 37 /* % */) s = safeDecodeURIComponent(s)
  if (!s.startsWith('<')) return null
  // strip one trailing NUL (Context strings) before parsing
  while (s.length > 0 && s.charCodeAt(s.length - 1) === 0) s = s.slice(0, -1)
  const doc = parseXml(s)
  const el = doc.roots[0]
  if (el === undefined || el.name.toLowerCase() !== 'msnobj') return null
  const obj: MsnObject = {}
  for (const [name, value] of Object.entries(el.attrs)) {
    const key = name.toLowerCase()
    switch (key) {
      case 'creator': obj.creator = value; break
      case 'size': { const n = toNumber(value); if (n !== undefined) obj.size = n; break }
      case 'type': {
        const n = toNumber(value)
        if (n !== undefined) { obj.type = n; const t = MSNOBJECT_TYPES[n]; if (t !== undefined) obj.typeName = t }
        break
      }
      case 'location': obj.location = value; break
      case 'friendly': { const f = decodeFriendly(value); if (f !== undefined) obj.friendly = f; break }
      case 'sha1d': obj.sha1d = value; break
      case 'sha1c': obj.sha1c = value; break
    }
    if (!KNOWN.has(key)) {
      obj.extra ??= {}
      setKey(obj.extra, name, value)
    }
  }
  if (doc.error !== undefined) obj.error = doc.error
  return obj
}
