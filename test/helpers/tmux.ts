/**
 * A pseudo-terminal for tests: a command in a tmux pane on a tmux server of the test's own
 * (`tmux -L <name>`), keys sent with send-keys and the screen read with capture-pane. waitFor()
 * polls the screen until a condition holds, with a generous deadline; nothing sleeps for a fixed
 * time and calls that an assertion.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

let counter = 0

export interface TerminalOptions {
  width?: number
  height?: number
  env?: Record<string, string>
  cwd?: string
}

export class Terminal {
  readonly socket = `msnscope-test-${process.pid}-${++counter}`
  #started = false
  #statusFile: string | null = null

  tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr.trim()}`)
    return r.stdout
  }

  /** Start `command` (a shell command line) in a fresh pane that stays after the command exits. */
  start(command: string, options: TerminalOptions = {}): void {
    const env = Object.entries({ LANG: 'C.UTF-8', TERM: 'xterm-256color', ...options.env }).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')
    const cd = options.cwd !== undefined ? `cd ${shellQuote(options.cwd)} && ` : ''
    // an idle pane first, so remain-on-exit is set before the command can end
    this.tmux('new-session', '-d', '-s', 't', '-x', String(options.width ?? 140), '-y', String(options.height ?? 40), 'sleep 600')
    this.#started = true
    this.tmux('set-option', '-t', 't', 'remain-on-exit', 'on')
    // the shell writes the exit status to a file: tmux may see the terminal close before it
    // has collected the status, and may never show it
    this.#statusFile = join(mkdtempSync(join(tmpdir(), 'msnscope-term-')), 'status')
    this.tmux('respawn-pane', '-k', '-t', 't', `sh -c ${shellQuote(`${cd}env ${env} ${command}; echo $? > ${shellQuote(this.#statusFile)}`)}`)
  }

  /** Keys by tmux name (Enter, Escape, BSpace, C-c, Up) or single characters. */
  keys(...keys: string[]): void { this.tmux('send-keys', '-t', 't', ...keys) }

  /** Literal text, typed as is. */
  type(text: string): void { this.tmux('send-keys', '-t', 't', '-l', text) }

  screen(): string { return this.tmux('capture-pane', '-p', '-t', 't') }

  /** Poll the screen until `test` holds; returns that screen. Fails with the last screen seen. */
  async waitFor(test: RegExp | ((screen: string) => boolean), what: string, timeoutMs = 30_000): Promise<string> {
    const ok = typeof test === 'function' ? test : (s: string) => test.test(s)
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      last = this.screen()
      if (ok(last)) return last
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen was:\n${last}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** Wait for the command to exit; returns its exit status. */
  async waitForExit(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const status = this.#statusFile !== null && existsSync(this.#statusFile) ? readFileSync(this.#statusFile, 'utf8').trim() : ''
      if (status !== '') return Number(status)
      if (Date.now() > deadline) throw new Error(`timed out waiting for the command to exit; the screen was:\n${this.screen()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  close(): void {
    if (!this.#started) return
    this.#started = false
    spawnSync('tmux', ['-L', this.socket, 'kill-server'])
    if (this.#statusFile !== null) rmSync(dirname(this.#statusFile), { recursive: true, force: true })
  }
}

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

export const hasTmux = (): boolean => spawnSync('tmux', ['-V']).status === 0
