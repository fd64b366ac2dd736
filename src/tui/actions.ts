/**
 * What the dashboard does on the user's behalf: release held commands (as they were or edited),
 * replay a command or a session, reload rules, and save the shown events. Everything that needs
 * the source goes through its controls; an absent control is reported, never guessed at. Long
 * jobs (saving, gathering a session) yield to the event loop as they go, so keys stay responsive.
 */
import { once } from 'node:events'
import { open } from 'node:fs/promises'
import { finished } from 'node:stream/promises'
import type { CommandScopeEvent, ScopeEvent } from '../events.js'
import type { EventFilter } from '../filter.js'
import { toJsonLine } from '../sinks/json.js'
import type { DashboardModel } from './model.js'
import { fmt } from './panes.js'

/** What a source may let the dashboard do. Absent controls are shown as not available. */
export interface DashboardControls {
  /** hold commands matching the filter (null: stop intercepting); held ones are pushed with `{ held: true }` */
  intercept?(filter: EventFilter | null): void
  /** let a held command go, as it was or as edited (bytes of the whole command, length already fixed) */
  release?(seq: number, editedBytes?: Buffer): void
  /** replay one command or a whole session; may return a message to show */
  replay?(request: ReplayRequest): void | string | Promise<void | string>
  /** reload rule files; may return a message to show (e.g. how many rules loaded) */
  reloadRules?(): void | string | Promise<void | string>
  /** write events somewhere else than the built-in JSON lines writer (e.g. pcap); returns the count */
  saveEvents?(path: string, events: AsyncIterable<ScopeEvent>): Promise<number>
}

export type ReplayRequest =
  | { kind: 'command'; event: CommandScopeEvent }
  | { kind: 'session'; conn: string; events: CommandScopeEvent[] }

export const NOT_AVAILABLE = 'not available for this source'
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export type Say = (text: string, error?: boolean) => void

export class Actions {
  constructor(
    readonly model: DashboardModel,
    readonly controls: DashboardControls,
    readonly say: Say,
    readonly selected: () => ScopeEvent | undefined,
  ) {}

  release(all: boolean): void {
    const m = this.model
    const release = this.controls.release
    if (release === undefined) { this.say(`release: ${NOT_AVAILABLE}`, true); return }
    if (all) {
      const seqs = [...m.held.keys()]
      for (const s of seqs) { m.released(s); release.call(this.controls, s) }
      this.say(seqs.length === 0 ? 'nothing is held' : `released ${fmt(seqs.length)} held commands`)
      return
    }
    const ev = this.selected()
    if (ev === undefined || !m.held.has(ev.seq)) { this.say('the selected event is not held', true); return }
    m.released(ev.seq)
    release.call(this.controls, ev.seq)
    this.say(`released #${ev.seq}`)
  }

  /** The selected command when it can be edited as text, else null (after saying why). */
  editable(): CommandScopeEvent | null {
    if (this.controls.release === undefined) { this.say(`edit: ${NOT_AVAILABLE}`, true); return null }
    const ev = this.selected()
    if (ev === undefined || ev.kind !== 'command' || !this.model.held.has(ev.seq)) { this.say('only a held command can be edited (i to intercept)', true); return null }
    const text = ev.command.raw.toString('utf8')
    if (!Buffer.from(text, 'utf8').equals(ev.command.raw)) { this.say('this command has binary bytes and cannot be edited as text; a releases it unchanged', true); return null }
    return ev
  }

  releaseEdited(original: CommandScopeEvent, text: string): void {
    const bytes = editedBytes(text, original)
    this.model.released(original.seq)
    this.controls.release?.(original.seq, bytes)
    this.say(`released #${original.seq} as edited (${bytes.length} bytes)`)
  }

  replay(session: boolean): void {
    const replay = this.controls.replay
    if (replay === undefined) { this.say(`replay: ${NOT_AVAILABLE}`, true); return }
    const ev = this.selected()
    if (ev === undefined) return
    if (!session) {
      if (ev.kind !== 'command') { this.say('select a command to replay (R replays its session)', true); return }
      this.#settle(() => replay.call(this.controls, { kind: 'command', event: ev }), `replaying #${ev.seq}`)
      return
    }
    this.say(`gathering session ${ev.conn}…`)
    void this.#sessionEvents(ev.conn).then((events) => {
      this.#settle(() => replay.call(this.controls, { kind: 'session', conn: ev.conn, events }), `replaying session ${ev.conn} (${fmt(events.length)} commands)`)
    })
  }

  async #sessionEvents(conn: string): Promise<CommandScopeEvent[]> {
    const store = this.model.store
    const end = store.size
    const events: CommandScopeEvent[] = []
    for (let i = this.model.conns.get(conn)?.firstIndex ?? 0; i < end; i++) {
      const e = store.get(i)
      if (e !== undefined && e.conn === conn && e.kind === 'command') events.push(e)
      if (i % 5000 === 4999) await turn()
    }
    return events
  }

  reloadRules(): void {
    const reload = this.controls.reloadRules
    if (reload === undefined) { this.say(`reload rules: ${NOT_AVAILABLE}`, true); return }
    this.#settle(() => reload.call(this.controls), 'rules reloaded')
  }

  #settle(fn: () => void | string | Promise<void | string>, done: string): void {
    const fail = (err: unknown): void => this.say(`${done} failed: ${err instanceof Error ? err.message : String(err)}`, true)
    try {
      const r = fn()
      if (r instanceof Promise) {
        this.say(`${done}…`)
        r.then((msg) => this.say(typeof msg === 'string' ? msg : done), fail)
      } else this.say(typeof r === 'string' ? r : done)
    } catch (err) {
      fail(err)
    }
  }

  /** Save the events of the list as shown (filter applied) to `path`; never overwrites a file. */
  async save(path: string): Promise<number> {
    const { view, store } = this.model
    const total = this.model.listLength
    async function* events(): AsyncGenerator<ScopeEvent> {
      for (let pos = 0; pos < total; pos++) {
        const ev = store.get(view.at(pos))
        if (ev !== undefined) yield ev
        if (pos % 2000 === 1999) await turn()
      }
    }
    this.say(`saving ${fmt(total)} events to ${path}…`)
    try {
      let count = 0
      if (this.controls.saveEvents !== undefined) count = await this.controls.saveEvents(path, events())
      else {
        // opened first, so that a file in the way (or a bad directory) fails before anything is written
        const out = (await open(path, 'wx')).createWriteStream()
        const done = finished(out)
        done.catch(() => { /* awaited below */ })
        for await (const ev of events()) {
          if (!out.write(`${toJsonLine(ev, { raw: true })}\n`)) await Promise.race([once(out, 'drain'), done])
          count++
        }
        out.end()
        await done
      }
      this.say(`saved ${fmt(count)} events to ${path}`)
      return count
    } catch (err) {
      this.say(`save failed: ${err instanceof Error ? err.message : String(err)}`, true)
      return -1
    }
  }
}

/**
 * The bytes of an edited command: the first line is the command, the rest its payload (line
 * breaks as CRLF when the original payload used them). The payload length token is recomputed.
 */
export function editedBytes(text: string, original: CommandScopeEvent): Buffer {
  const nl = text.indexOf('\n')
  const line = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '')
  const c = original.command
  if (c.payloadLength === null) return Buffer.from(`${line}\r\n`, 'utf8')
  let payloadText = nl < 0 ? '' : text.slice(nl + 1)
  if (c.payloadRaw !== null && c.payloadRaw.includes('\r\n')) payloadText = payloadText.replace(/\r?\n/g, '\r\n')
  const payload = Buffer.from(payloadText, 'utf8')
  const tokens = line.split(' ')
  if (tokens.length > 1 && /^\d+$/.test(tokens[tokens.length - 1]!)) tokens[tokens.length - 1] = String(payload.length)
  else tokens.push(String(payload.length))
  return Buffer.concat([Buffer.from(`${tokens.join(' ')}\r\n`, 'utf8'), payload])
}
