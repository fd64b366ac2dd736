/**
 * Text editing for the dashboard, independent of blessed's widgets: a one-line editor for the
 * prompts (filter, search, intercept, save path) with history, and a small multi-line editor for
 * changing a held command before it is released. Both take blessed key events and render to
 * markup with a visible cursor.
 */
import { esc } from './tags.js'

export interface KeyInfo {
  name?: string
  ctrl?: boolean
  meta?: boolean
  shift?: boolean
  full?: string
  sequence?: string
}

export type EditResult = 'submit' | 'cancel' | 'changed' | 'moved' | 'ignored'

const printable = (ch: string | undefined, key: KeyInfo): ch is string =>
  ch !== undefined && ch.length > 0 && key.ctrl !== true && key.meta !== true && !/[\x00-\x1f\x7f]/.test(ch)

const cursorMark = (ch: string | undefined): string => `{inverse}${esc(ch === undefined || ch === '' ? ' ' : ch)}{/inverse}`

export class LineEditor {
  value: string
  cursor: number
  #history: string[]
  #histPos: number

  constructor(initial = '', history: string[] = []) {
    this.value = initial
    this.cursor = initial.length
    this.#history = history
    this.#histPos = history.length
  }

  key(ch: string | undefined, key: KeyInfo): EditResult {
    const v = this.value
    switch (key.name) {
      case 'enter': case 'return': return 'submit'
      case 'escape': return 'cancel'
      case 'left': if (this.cursor > 0) this.cursor--; return 'moved'
      case 'right': if (this.cursor < v.length) this.cursor++; return 'moved'
      case 'home': this.cursor = 0; return 'moved'
      case 'end': this.cursor = v.length; return 'moved'
      case 'backspace':
        if (this.cursor === 0) return 'ignored'
        this.value = v.slice(0, this.cursor - 1) + v.slice(this.cursor)
        this.cursor--
        return 'changed'
      case 'delete':
        if (this.cursor >= v.length) return 'ignored'
        this.value = v.slice(0, this.cursor) + v.slice(this.cursor + 1)
        return 'changed'
      case 'up': case 'down': {
        if (this.#history.length === 0) return 'ignored'
        this.#histPos = Math.max(0, Math.min(this.#history.length, this.#histPos + (key.name === 'up' ? -1 : 1)))
        this.value = this.#history[this.#histPos] ?? ''
        this.cursor = this.value.length
        return 'changed'
      }
      default:
    }
    if (key.ctrl === true) {
      switch (key.name) {
        case 'a': this.cursor = 0; return 'moved'
        case 'e': this.cursor = v.length; return 'moved'
        case 'u': this.value = v.slice(this.cursor); this.cursor = 0; return 'changed'
        case 'k': this.value = v.slice(0, this.cursor); return 'changed'
        case 'w': {
          const before = v.slice(0, this.cursor).replace(/\S+\s*$/, '')
          this.value = before + v.slice(this.cursor)
          this.cursor = before.length
          return 'changed'
        }
        case 'c': case 'g': return 'cancel'
        default: return 'ignored'
      }
    }
    if (printable(ch, key)) {
      this.value = v.slice(0, this.cursor) + ch + v.slice(this.cursor)
      this.cursor += ch.length
      return 'changed'
    }
    return 'ignored'
  }

  /** The value with the cursor shown, scrolled to fit `width` columns. */
  render(width: number): string {
    const v = this.value
    const w = Math.max(4, width)
    const start = this.cursor < w - 1 ? 0 : this.cursor - (w - 2)
    const shown = v.slice(start, start + w - 1)
    const at = this.cursor - start
    return esc(shown.slice(0, at)) + cursorMark(shown[at]) + esc(shown.slice(at + 1))
  }
}

export class TextEditor {
  lines: string[]
  row = 0
  col = 0
  #top = 0

  constructor(text: string) {
    this.lines = text.split('\n')
  }

  get text(): string { return this.lines.join('\n') }

  key(ch: string | undefined, key: KeyInfo): EditResult {
    const line = this.lines[this.row] ?? ''
    if (key.ctrl === true && key.name === 's') return 'submit'
    if (key.name === 'escape' || (key.ctrl === true && (key.name === 'c' || key.name === 'g'))) return 'cancel'
    switch (key.name) {
      case 'up': if (this.row > 0) { this.row--; this.col = Math.min(this.col, this.lines[this.row]!.length) } return 'moved'
      case 'down': if (this.row < this.lines.length - 1) { this.row++; this.col = Math.min(this.col, this.lines[this.row]!.length) } return 'moved'
      case 'left':
        if (this.col > 0) this.col--
        else if (this.row > 0) { this.row--; this.col = this.lines[this.row]!.length }
        return 'moved'
      case 'right':
        if (this.col < line.length) this.col++
        else if (this.row < this.lines.length - 1) { this.row++; this.col = 0 }
        return 'moved'
      case 'home': this.col = 0; return 'moved'
      case 'end': this.col = line.length; return 'moved'
      case 'enter': case 'return':
        this.lines.splice(this.row, 1, line.slice(0, this.col), line.slice(this.col))
        this.row++
        this.col = 0
        return 'changed'
      case 'backspace':
        if (this.col > 0) {
          this.lines[this.row] = line.slice(0, this.col - 1) + line.slice(this.col)
          this.col--
        } else if (this.row > 0) {
          const prev = this.lines[this.row - 1]!
          this.lines.splice(this.row - 1, 2, prev + line)
          this.row--
          this.col = prev.length
        } else return 'ignored'
        return 'changed'
      case 'delete':
        if (this.col < line.length) this.lines[this.row] = line.slice(0, this.col) + line.slice(this.col + 1)
        else if (this.row < this.lines.length - 1) this.lines.splice(this.row, 2, line + this.lines[this.row + 1]!)
        else return 'ignored'
        return 'changed'
      default:
    }
    if (key.ctrl === true && key.name === 'a') { this.col = 0; return 'moved' }
    if (key.ctrl === true && key.name === 'e') { this.col = line.length; return 'moved' }
    if (key.ctrl === true && key.name === 'k') { this.lines[this.row] = line.slice(0, this.col); return 'changed' }
    if (printable(ch, key)) {
      this.lines[this.row] = line.slice(0, this.col) + ch + line.slice(this.col)
      this.col += ch.length
      return 'changed'
    }
    return 'ignored'
  }

  /** Visible lines with the cursor, scrolled to keep it in view. */
  render(width: number, height: number): string[] {
    if (this.row < this.#top) this.#top = this.row
    if (this.row >= this.#top + height) this.#top = this.row - height + 1
    const out: string[] = []
    for (let r = this.#top; r < Math.min(this.lines.length, this.#top + height); r++) {
      const line = this.lines[r]!
      const w = Math.max(4, width)
      if (r !== this.row) { out.push(esc(line.length > w ? `${line.slice(0, w - 1)}…` : line)); continue }
      const start = this.col < w - 1 ? 0 : this.col - (w - 2)
      const shown = line.slice(start, start + w - 1)
      const at = this.col - start
      out.push(esc(shown.slice(0, at)) + cursorMark(shown[at]) + esc(shown.slice(at + 1)))
    }
    return out
  }
}
