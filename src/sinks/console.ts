/**
 * One readable line per event, for `--no-tui`, `decode` and anything else that prints events to
 * a terminal: time, connection, role, direction, the verb coloured by family, TrID, args, what a
 * rule did, and a short summary of the payload. Colours come from colors.ts, shared with the
 * dashboard; without colour the text is identical.
 *
 * Wire text is untrusted: control characters are replaced before anything reaches a terminal,
 * so a message cannot move the cursor or change the terminal's state.
 */
import { Chalk, type ChalkInstance } from 'chalk'
import type { ScopeEvent } from '../events.js'
import { eventDetailText, payloadSummary, sanitize } from '../event-view.js'
import { ACTION_MARK, FAMILY_STYLE, KIND_LABEL, PART_STYLE, verbFamily, type Segment, type Style } from './colors.js'

export { sanitize }

export interface LineOptions {
  color: boolean
  /** terminal columns; the line is cut to fit (with `…`) */
  width?: number
}

/** `2024-05-01T12:03:04.120Z` → `12:03:04.120`; other forms are shown as given. */
export function clockTime(ts: string): string {
  const m = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(ts)
  if (m === null) return ts.slice(0, 12)
  const t = m[1]!
  return t.length === 8 ? `${t}.000` : t.padEnd(12, '0')
}

/** Columns a string takes in a terminal (wide CJK and emoji count 2, combining marks 0). */
export function displayWidth(text: string): number {
  let w = 0
  for (const ch of text) w += charWidth(ch.codePointAt(0) ?? 0)
  return w
}

export function charWidth(cp: number): number {
  if (cp < 0x300) return 1
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp === 0xfe0f) return 0
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2
  return 1
}

/** Cut segments to `width` columns, ending in `…` when something was cut. */
export function fitSegments(segments: Segment[], width: number): Segment[] {
  let total = 0
  for (const seg of segments) total += displayWidth(seg.text)
  if (total <= width) return segments
  const out: Segment[] = []
  let room = Math.max(0, width - 1)
  for (const seg of segments) {
    let text = ''
    for (const ch of seg.text) {
      const cw = charWidth(ch.codePointAt(0) ?? 0)
      if (cw > room) { room = -1; break }
      text += ch
      room -= cw
    }
    if (room < 0) {
      out.push({ ...seg, text: `${text}…` })
      return out
    }
    out.push(text === seg.text ? seg : { ...seg, text })
  }
  out.push({ text: '…' })
  return out
}

const arrow = (from: 'client' | 'server' | undefined): Segment =>
  from === 'client' ? { text: '→', ...PART_STYLE.toServer } : from === 'server' ? { text: '←', ...PART_STYLE.toClient } : { text: '·', fg: 'gray' }

export interface SegmentOptions {
  /** the event is held by intercept */
  held?: boolean
  /** the user marked it */
  marked?: boolean
}

/** The parts of an event's line, styled; the dashboard and formatEventLine both draw from this. */
export function eventLineSegments(ev: ScopeEvent, options: SegmentOptions = {}): Segment[] {
  const segs: Segment[] = []
  if (options.marked === true) segs.push({ text: '● ', ...PART_STYLE.marked })
  segs.push({ text: clockTime(ev.ts), ...PART_STYLE.time }, { text: ' ' })
  segs.push({ text: ev.conn.padEnd(4), ...PART_STYLE.conn }, { text: ' ' })
  segs.push({ text: ev.role.padEnd(2), ...PART_STYLE.role }, { text: ' ' })
  if (ev.kind === 'command') {
    const c = ev.command
    segs.push(arrow(c.from), { text: ' ' })
    segs.push({ text: sanitize(c.verb).padEnd(3), ...FAMILY_STYLE[verbFamily(c.verb)] })
    if (c.trId !== null) segs.push({ text: ` ${c.trId}`, ...PART_STYLE.trId })
    if (options.held === true) segs.push({ text: ' ' }, { text: ' HELD ', ...PART_STYLE.held })
    if (ev.action !== 'pass') {
      const mark = ACTION_MARK[ev.action]
      segs.push({ text: ' ' }, { text: ` ${mark.label}${ev.rule !== undefined ? `:${sanitize(ev.rule)}` : ''} `, ...mark.style })
    }
    if (c.args.length > 0) segs.push({ text: ` ${sanitize(c.args.join(' '))}` })
    const summary = payloadSummary(ev)
    if (summary !== '') segs.push({ text: `  ${sanitize(summary)}`, ...PART_STYLE.summary })
    else if (c.payloadLength !== null) segs.push({ text: ` [${c.payloadLength} B]`, fg: 'gray' })
    if (c.notes !== undefined && c.notes.length > 0) segs.push({ text: `  (${sanitize(c.notes.join('; '))})`, fg: 'yellow' })
    return segs
  }
  const from = 'from' in ev && (ev.from === 'client' || ev.from === 'server') ? ev.from : undefined
  segs.push(arrow(from), { text: ' ' })
  const label = KIND_LABEL[ev.kind]
  segs.push({ text: label.label.padEnd(3), ...label.style })
  segs.push({ text: ` ${sanitize(eventDetailText(ev))}` })
  return segs
}

const COLOR_CHALK: ChalkInstance = new Chalk({ level: 1 })

function styled(c: ChalkInstance, seg: Segment): string {
  let s = c
  if (seg.fg !== undefined) s = s[seg.fg === 'gray' ? 'gray' : seg.fg]
  if (seg.bg !== undefined) s = s[BG[seg.bg]]
  if (seg.bold === true) s = s.bold
  if (seg.inverse === true) s = s.inverse
  return s(seg.text)
}

const BG = {
  black: 'bgBlack', red: 'bgRed', green: 'bgGreen', yellow: 'bgYellow', blue: 'bgBlue',
  magenta: 'bgMagenta', cyan: 'bgCyan', white: 'bgWhite', gray: 'bgGray',
} as const

/** Segments as terminal text: chalk colours, or plain. */
export function renderSegments(segments: Segment[], color: boolean): string {
  if (!color) return segments.map((s) => s.text).join('')
  return segments.map((s) => (hasStyle(s) ? styled(COLOR_CHALK, s) : s.text)).join('')
}

const hasStyle = (s: Style): boolean => s.fg !== undefined || s.bg !== undefined || s.bold === true || s.inverse === true

/** One line for one event, coloured or plain, cut to `width` columns when given. */
export function formatEventLine(event: ScopeEvent, options: LineOptions): string {
  let segs = eventLineSegments(event)
  if (options.width !== undefined && options.width > 0) segs = fitSegments(segs, options.width)
  return renderSegments(segs, options.color)
}
