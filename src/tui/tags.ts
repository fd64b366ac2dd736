/** Blessed tag markup for styled segments, in the shared colour scheme (sinks/colors.ts). */
import type { Segment, Style } from '../sinks/colors.js'

/** Escape wire text so blessed shows braces instead of reading them as tags. */
export const esc = (text: string): string => text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'))

export function styleTags(style: Style, text: string): string {
  let open = ''
  if (style.fg !== undefined) open += `{${style.fg}-fg}`
  if (style.bg !== undefined) open += `{${style.bg}-bg}`
  if (style.bold === true) open += '{bold}'
  if (style.inverse === true) open += '{inverse}'
  return open === '' ? esc(text) : `${open}${esc(text)}{/}`
}

export const segmentsToTags = (segs: Segment[]): string => segs.map((s) => styleTags(s, s.text)).join('')

export const plainText = (segs: Segment[]): string => segs.map((s) => s.text).join('')
