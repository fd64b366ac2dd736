/**
 * A pseudo-terminal for tests: a command in a tmux pane on a tmux server of the test's own
 * (`tmux -L <name>`), keys sent with send-keys and the screen read with capture-pane. waitFor()
 * polls the screen until a condition holds, with a generous deadline; nothing sleeps for a fixed
 * time and calls that an assertion.
 */
import { spawnSync } from 'node:child_process'

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
    this.tmux('respawn-pane', '-k', '-t', 't', `${cd}exec env ${env} ${command}`)
  }

  /** Keys by tmux name (Enter, Escape, BSpace, C-c, Up) or single characters. */
  keys(...keys: string[]): void { this.tmux('send-keys', '-t', 't', ...keys) }

  /** Literal text, typed as is. */
  type(text: string): void { this.tmux('send-keys', '-t', 't', '-l', text) }

  screen(): string { return this.tmux('capture-pane', '-p', '-t', 't') }

  /** Whether the command has exited, and its status. */
  exited(): { dead: boolean; status: number | null } {
    const [dead, status, signal] = this.tmux('display-message', '-p', '-t', 't', '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}').trim().split(':')
    // tmux may mark the pane dead (its terminal closed) a moment before it has the exit status
    const known = status !== undefined && status !== ''
    const killed = signal !== undefined && signal !== ''
    return { dead: dead === '1' && (known || killed), status: known ? Number(status) : null }
  }

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

  async waitForExit(timeoutMs = 30_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const e = this.exited()
      if (e.dead) return e.status
      if (Date.now() > deadline) throw new Error(`timed out waiting for the command to exit (${this.tmux('display-message', '-p', '-t', 't', '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}').trim()}); the screen was:\n${this.screen()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  close(): void {
    if (!this.#started) return
    this.#started = false
    spawnSync('tmux', ['-L', this.socket, 'kill-server'])
  }
}

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

export const hasTmux = (): boolean => spawnSync('tmux', ['-V']).status === 0
