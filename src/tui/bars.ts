/**
 * The one-line bars around the panes: the title (what is shown, follow or pause, filter,
 * intercept, end of input), the status line (events and their rate, connections, bytes, blocked
 * and rewritten counts, rule hits) and, while a filter is typed, its check: a caret under the
 * first error and what was expected there. Pure: text in blessed markup.
 */
import { checkFilter } from '../filter.js'
import type { DashboardModel } from './model.js'
import { clip, fmt } from './panes.js'
import { esc } from './tags.js'

export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`
  return `${(n / 1024 ** 3).toFixed(2)} GB`
}

export function titleLine(m: DashboardModel, title: string): string {
  const right: string[] = []
  if (m.paused) right.push(`{yellow-fg}{bold}PAUSED{/bold} +${fmt(Math.max(0, m.view.length - m.listLength))}{/yellow-fg}`)
  else if (m.follow) right.push('{green-fg}{bold}FOLLOW{/bold}{/green-fg}')
  const f = m.view.filter
  if (f !== null) right.push(`filter {bold}${esc(f.source)}{/bold} (${fmt(m.view.length)} shown${m.view.scanning ? `, matching ${Math.floor(m.view.progress * 100)}%` : ''})`)
  if (m.intercept !== null) right.push(`{yellow-fg}intercept {bold}${esc(m.intercept.source)}{/bold} (${fmt(m.held.size)} held){/yellow-fg}`)
  if (m.ended) right.push('{cyan-fg}end of input{/cyan-fg}')
  right.push('?:help ')
  return `{bold} msnscope{/bold} · ${esc(title)}{|}${right.join('  ')}`
}

export function statusLine(m: DashboardModel, rate: number): string {
  const c = m.counters
  const parts = [
    `{bold}${fmt(c.events)}{/bold} events`,
    `${fmt(rate)}/s`,
    `conns ${fmt(m.conns.openCount)} open / ${fmt(m.conns.size)}`,
    bytesText(c.bytes),
    `${c.blocked > 0 ? '{red-fg}' : ''}blocked ${fmt(c.blocked)}${c.blocked > 0 ? '{/red-fg}' : ''}`,
    `${c.rewritten > 0 ? '{yellow-fg}' : ''}rewritten ${fmt(c.rewritten)}${c.rewritten > 0 ? '{/yellow-fg}' : ''}`,
    `rule hits ${fmt(c.ruleHits)}`,
  ]
  if (c.errors > 0) parts.push(`{red-fg}errors ${fmt(c.errors)}{/red-fg}`)
  if (m.held.size > 0) parts.push(`{yellow-fg}{bold}held ${fmt(m.held.size)}{/bold}{/yellow-fg}`)
  if (m.marked.size > 0) parts.push(`marked ${fmt(m.marked.size)}`)
  const spilled = m.store.size - m.store.inMemory - m.store.lost
  if (spilled > 0) parts.push(`{gray-fg}${fmt(spilled)} on disk{/gray-fg}`)
  if (m.store.lost > 0) parts.push(`{red-fg}${fmt(m.store.lost)} let go (spill file: ${m.store.spillError ?? '?'}){/red-fg}`)
  return ` ${parts.join(' · ')}`
}

/** The check of a filter being typed after `label: `, for a line `width` columns wide. */
export function filterCheckLine(label: string, value: string, width: number): string {
  const err = checkFilter(value)
  if (err === null) return value.trim() === '' ? '{gray-fg} empty: no filter{/}' : '{green-fg} ✓ valid filter{/}'
  const col = label.length + 2 + err.position
  const msg = `✗ ${err.message}`
  return col + 2 + msg.length <= width ? `${' '.repeat(col)}{red-fg}{bold}^{/bold} ${esc(msg)}{/red-fg}` : `{red-fg}${esc(clip(msg, Math.max(10, width - 2)))}{/red-fg}`
}
