/**
 * The text-formatting header of instant messages (X-MMS-IM-Format, messages.md section 3.1) and
 * the RFC 2047 encoded words of mail notifications. Runs once per distinct format line, so it
 * avoids split/regex work; never throws.
 */
import { decodeText } from './mime.js'
import { safeDecodeURIComponent } from './msnobject.js'

/** X-MMS-IM-Format, decoded. */
export interface ImFormat {
  font?: string
  effects?: { bold: boolean; italic: boolean; underline: boolean; strikethrough: boolean }
  /** #rrggbb (the wire value is B G R hex with leading zeros dropped) */
  color?: string
  charset?: number
  charsetName?: string
  pitchFamily?: number
  pitch?: string
  family?: string
  rtl?: boolean
  error?: string
}

export const CHARSETS: Readonly<Record<number, string>> = {
  0x00: 'ANSI', 0x01: 'default', 0x02: 'symbol', 0x80: 'Shift-JIS', 0x81: 'Hangul', 0x86: 'GB2312', 0x88: 'Big5',
  0xa1: 'Greek', 0xa2: 'Turkish', 0xb1: 'Hebrew', 0xb2: 'Arabic', 0xba: 'Baltic', 0xcc: 'Cyrillic', 0xde: 'Thai', 0xee: 'Eastern European',
}
const PITCHES = ['default', 'fixed', 'variable']
const FAMILIES = ['dontcare', 'roman', 'swiss', 'modern', 'script', 'decorative']
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Hex digits in s[from, to) as a number; -1 unless there are 1 to 8 of them and nothing else. */
function hexValue(s: string, from: number, to: number): number {
  if (to <= from || to - from > 8) return -1
  let n = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
    if (d < 0) return -1
    n = n * 16 + d
  }
  return n
}

const isBlank = (c: number): boolean => c === 32 || c === 9
// two-letter keys, lower-cased, as (first << 8) | second
const FN = 0x666e, EF = 0x6566, CO = 0x636f, CS = 0x6373, PF = 0x7066, RL = 0x726c

// X-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff; CS=0; PF=22
/** Decode X-MMS-IM-Format. */
export function decodeImFormat(value: string): ImFormat {
  const f: ImFormat = {}
  let bad = ''
  const len = value.length
  for (let pos = 0; pos < len;) {
    let end = value.indexOf(';', pos)
    if (end < 0) end = len
    let a = pos, b = end
    pos = end + 1
    while (a < b && isBlank(value.charCodeAt(a))) a++
    while (b > a && isBlank(value.charCodeAt(b - 1))) b--
    if (a === b) continue
    const eq = value.indexOf('=', a)
    let ke = eq, vs = eq + 1
    while (ke > a && isBlank(value.charCodeAt(ke - 1))) ke--
    while (vs < b && isBlank(value.charCodeAt(vs))) vs++
    const key = eq < 0 || eq >= b || ke - a !== 2 ? -1 : ((value.charCodeAt(a) | 0x20) << 8) | (value.charCodeAt(a + 1) | 0x20)
    switch (key) {
      case FN: f.font = safeDecodeURIComponent(value.slice(vs, b)); continue
      case EF: {
        const e = { bold: false, italic: false, underline: false, strikethrough: false }
        for (let i = vs; i < b; i++) {
          switch (value.charCodeAt(i) | 0x20) {
            case 0x62: e.bold = true; break
            case 0x69: e.italic = true; break
            case 0x75: e.underline = true; break
            case 0x73: e.strikethrough = true; break
          }
        }
        f.effects = e
        continue
      }
      case CO: {
        const n = b - vs <= 6 ? hexValue(value, vs, b) : -1
        if (n < 0) break
        f.color = '#' + HEX2[n & 0xff]! + HEX2[(n >> 8) & 0xff]! + HEX2[(n >> 16) & 0xff]!
        continue
      }
      case CS: {
        const n = hexValue(value, vs, b)
        if (n < 0) break
        f.charset = n
        const name = CHARSETS[n]
        if (name !== undefined) f.charsetName = name
        continue
      }
      case PF: {
        const n = hexValue(value, vs, b)
        if (n < 0) break
        f.pitchFamily = n
        f.pitch = PITCHES[n & 0x3] ?? `0x${(n & 0x3).toString(16)}`
        f.family = FAMILIES[(n >> 4) & 0xf] ?? `0x${((n >> 4) & 0xf).toString(16)}`
        continue
      }
      case RL: f.rtl = value.slice(vs, b) === '1'; continue
    }
    bad += (bad === '' ? '' : ', ') + value.slice(a, b)
  }
  if (bad !== '') f.error = `unrecognised format fields: ${bad}`
  return f
}

/** "=?utf-8?B?...?=" and "=?utf-8?Q?...?=" words (mail subjects and sender names). */
export function decodeEncodedWords(s: string): string {
  if (s.indexOf('=?') < 0) return s
  return s.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (m, cs: string, enc: string, data: string) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')
    const t = decodeText(bytes, 0, bytes.length, cs)
    return t.error === undefined ? t.text : m
  })
}
