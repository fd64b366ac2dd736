/**
 * Rule files: the only part of rules/ that does I/O. TypeScript and JavaScript rule scripts are
 * imported through tsx (no build step), policy files (.yaml, .yml) parsed and compiled; every
 * file is validated as a whole, the recordings its replay rules name are read (once, relative
 * to the file), then the file is watched and reloaded when it changes.
 *
 * Promises: a file that fails to load the first time is an error a person must fix (thrown);
 * one that fails on a later reload leaves its previous rules active and is reported (a
 * `rule-error` event and an `error` notice) with the reason. Only the named file is watched,
 * not the modules it imports nor the recordings it replays.
 */
import { EventEmitter } from 'node:events'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { MsnscopeError } from '../errors.js'
import type { RuleErrorEvent, StatsEvent } from '../events.js'
import { loadReplaySequence } from '../replay/api.js'
import type { ReplayableCommand } from '../replay/inject.js'
import { describeRule } from './describe.js'
import { RuleEngine, type Clock, type DefaultAction } from './engine.js'
import { policyRules } from './policy.js'
import { blockAllRules, blockFileTransferRules, blockWordsRules, parseWordList } from './presets.js'
import type { LoadedRule } from './rule.js'
import { validateRules } from './validate.js'

/** The real clock, for live use. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => clearTimeout(t)
  },
}

const SCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'])
const POLICY_EXTENSIONS = new Set(['.yaml', '.yml'])

const message = (err: unknown): string => err instanceof Error ? err.message.split('\n')[0]! : String(err)

/** The rules a module exports: `export default [...]` (or `export const rules = [...]`). */
function exportedRules(mod: Record<string, unknown>): unknown {
  let value = mod.default ?? mod.rules
  // a script compiled as CommonJS arrives wrapped once more
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'default' in value) value = (value as { default: unknown }).default
  return value
}

async function importScript(path: string): Promise<Record<string, unknown>> {
  const { tsImport } = await import('tsx/esm/api')
  // every call gets a fresh module (tsx namespaces each import), so a changed file is read again
  return await tsImport(pathToFileURL(resolve(path)).href, import.meta.url) as Record<string, unknown>
}

/** At most this many commands are sent for one match of a replay rule (times × its recording). */
export const MAX_REPLAY_COMMANDS = 1000

/**
 * Validate rules and read the recordings their replay actions name (`file`, relative to `dir`,
 * default the working directory; each recording once). Throws MsnscopeError (ERULE) naming the
 * source, the rule and the problem.
 */
export async function loadRules(value: unknown, source: string, options: { dir?: string } = {}): Promise<LoadedRule[]> {
  const rules = validateRules(value, source)
  const read = new Map<string, Promise<ReplayableCommand[]>>()
  const out: LoadedRule[] = []
  for (const lr of rules) {
    const a = lr.rule.action
    if (typeof a !== 'object' || a.type !== 'replay' || a.file === undefined) { out.push(lr); continue }
    const at = `${source}: rule "${lr.rule.name}" (#${lr.index}): action.file ${a.file}`
    const file = resolve(options.dir ?? '.', a.file)
    const key = `${a.conn ?? ''}\n${file}`
    let pending = read.get(key)
    if (pending === undefined) read.set(key, pending = loadReplaySequence(file, a.conn !== undefined ? { conn: a.conn } : {}))
    let sequence: ReplayableCommand[]
    try { sequence = await pending } catch (err) {
      throw new MsnscopeError('ERULE', `${at}: ${message(err)}`, { cause: err })
    }
    if (sequence.length === 0) throw new MsnscopeError('ERULE', `${at}: ${a.conn !== undefined ? `connection ${a.conn} of the recording has` : 'the recording holds'} no client commands`)
    const times = a.times ?? 1
    if (sequence.length * times > MAX_REPLAY_COMMANDS) {
      throw new MsnscopeError('ERULE', `${at}: ${sequence.length} recorded commands ${times} times is more than ${MAX_REPLAY_COMMANDS} commands for one match`)
    }
    out.push({ ...lr, sequence })
  }
  return out
}

/** Load and validate one rule file (script or policy). Throws MsnscopeError (ERULE) saying why. */
export async function loadRuleFile(path: string): Promise<LoadedRule[]> {
  const ext = extname(path).toLowerCase()
  if (POLICY_EXTENSIONS.has(ext)) {
    let text: string
    try { text = await readFile(path, 'utf8') } catch (err) {
      throw new MsnscopeError('ERULE', `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? message(err)}`, { cause: err })
    }
    return loadRules(policyRules(text, path), path, { dir: dirname(path) })
  }
  if (!SCRIPT_EXTENSIONS.has(ext)) throw new MsnscopeError('ERULE', `${path}: a rule file must be a script (.ts, .js, .mjs …) or a policy (.yaml, .yml)`)
  let mod: Record<string, unknown>
  try { mod = await importScript(path) } catch (err) {
    throw new MsnscopeError('ERULE', `${path}: cannot load: ${message(err)}`, { cause: err })
  }
  return loadRules(exportedRules(mod), path, { dir: dirname(path) })
}

/** Load a policy file's rules only (for `--policy`, which insists on YAML). */
export async function loadPolicyFile(path: string): Promise<LoadedRule[]> {
  if (!POLICY_EXTENSIONS.has(extname(path).toLowerCase())) throw new MsnscopeError('ERULE', `${path}: a policy file must be YAML (.yaml or .yml)`)
  return loadRuleFile(path)
}

export interface PresetOptions {
  blockAll?: boolean
  blockFileTransfers?: boolean
  /** a word-list file: one word per line, # comments */
  blockWords?: string
}

/** Install the preset flags' rules on an engine (before any file's rules). */
export async function installPresets(engine: RuleEngine, o: PresetOptions): Promise<void> {
  if (o.blockAll === true) engine.setRules('--block-all', validateRules(blockAllRules(), '--block-all'))
  if (o.blockFileTransfers === true) engine.setRules('--block-file-transfers', validateRules(blockFileTransferRules(), '--block-file-transfers'))
  if (o.blockWords !== undefined) {
    let text: string
    try { text = await readFile(o.blockWords, 'utf8') } catch (err) {
      throw new MsnscopeError('ERULE', `--block-words ${o.blockWords}: cannot read: ${(err as NodeJS.ErrnoException).code ?? message(err)}`, { cause: err })
    }
    const words = parseWordList(text)
    if (words.length === 0) throw new MsnscopeError('ERULE', `--block-words ${o.blockWords}: the file lists no words`)
    engine.setRules(`--block-words ${o.blockWords}`, validateRules(blockWordsRules(words), `--block-words ${o.blockWords}`))
  }
}

export interface ReloadNotice { file: string; rules: number }
export interface ReloadFailure { file: string; error: string }

export interface RuleFilesEvents {
  reload: [ReloadNotice]
  'reload-failed': [ReloadFailure]
}

export interface RuleFilesOptions {
  /** watch the files and reload them when they change (default true) */
  watch?: boolean
  /** where reload failures go as `rule-error` events (the proxy's event hub) */
  emit?: (ev: Omit<RuleErrorEvent, 'seq' | 'ts'>) => void
  /** how long to wait for a burst of file-system notices to end before reloading (default 50 ms) */
  settleMs?: number
}

/** The rule files of one engine: loaded in order, watched, reloaded. */
export class RuleFiles extends EventEmitter<RuleFilesEvents> {
  readonly #engine: RuleEngine
  readonly #o: RuleFilesOptions
  readonly #watchers = new Map<string, FSWatcher>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #loading = new Map<string, Promise<void>>()
  readonly #again = new Set<string>()
  readonly #added = new Set<string>()
  #closed = false

  constructor(engine: RuleEngine, o: RuleFilesOptions = {}) {
    super()
    this.#engine = engine
    this.#o = o
  }

  /** Load a file now (throws if it cannot be loaded), then watch it. `policy` insists on YAML. */
  async add(path: string, o: { policy?: boolean } = {}): Promise<LoadedRule[]> {
    const rules = o.policy === true ? await loadPolicyFile(path) : await loadRuleFile(path)
    this.#engine.setRules(path, rules)
    this.#added.add(path)
    if (this.#o.watch !== false) this.#watch(path)
    return rules
  }

  /** The files loaded, in order. */
  get files(): string[] { return [...this.#added] }

  /** Reload every file now; resolves with the failures (empty when all loaded). */
  async reloadAll(): Promise<ReloadFailure[]> {
    const failures: ReloadFailure[] = []
    const onFail = (f: ReloadFailure): void => { failures.push(f) }
    this.on('reload-failed', onFail)
    try {
      for (const f of this.#added) await this.reload(f)
    } finally {
      this.off('reload-failed', onFail)
    }
    return failures
  }

  /** Reload a file now; on failure the previous rules stay and the failure is reported. */
  reload(path: string): Promise<void> {
    const running = this.#loading.get(path)
    if (running !== undefined) { this.#again.add(path); return running }
    const p = this.#reloadOnce(path).finally(() => {
      this.#loading.delete(path)
      if (this.#again.delete(path) && !this.#closed) void this.reload(path)
    })
    this.#loading.set(path, p)
    return p
  }

  async #reloadOnce(path: string): Promise<void> {
    try {
      const rules = await loadRuleFile(path)
      if (this.#closed) return
      this.#engine.setRules(path, rules)
      this.emit('reload', { file: path, rules: rules.length })
    } catch (err) {
      if (this.#closed) return
      const error = `${message(err)} (the previous rules of ${path} stay active)`
      this.#o.emit?.({ kind: 'rule-error', conn: '-', transport: 'tcp', client: null, server: null, role: '?', rule: path, error })
      this.emit('reload-failed', { file: path, error })
    }
  }

  #watch(path: string): void {
    if (this.#watchers.has(path)) return
    const base = basename(path)
    // watch the directory: editors often replace a file (write elsewhere, rename over it)
    const w = watch(dirname(resolve(path)), { persistent: false }, (_event, name) => {
      if (name !== null && name !== base) return
      const old = this.#timers.get(path)
      if (old !== undefined) clearTimeout(old)
      this.#timers.set(path, setTimeout(() => { this.#timers.delete(path); void this.reload(path) }, this.#o.settleMs ?? 50))
    })
    w.on('error', () => { /* the directory went away: keep the rules we have */ })
    this.#watchers.set(path, w)
  }

  close(): void {
    this.#closed = true
    for (const w of this.#watchers.values()) w.close()
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#watchers.clear()
    this.#timers.clear()
  }
}

export interface RuleSetup extends PresetOptions {
  /** rule scripts and policy files, in order */
  rules?: readonly string[]
  /** policy files (YAML), after the scripts */
  policy?: readonly string[]
  timeoutMs?: number
  defaultAction?: DefaultAction
  /** watch and reload the files (default true) */
  watch?: boolean
  clock?: Clock
  /** where `rule-error` (reload failures) and `stats` events go */
  emit?: (ev: Omit<RuleErrorEvent, 'seq' | 'ts'> | Omit<StatsEvent, 'seq' | 'ts'>) => void
  /** emit the rule counters this often while they change (default 10 s; 0: only at close) */
  statsIntervalMs?: number
}

export interface ActiveRules {
  engine: RuleEngine
  files: RuleFiles
  /** one line per rule: its source, name and what it does */
  listing(): string[]
  /** reload every file now (the dashboard's reload key); rejects with the reasons when one fails */
  reload(): Promise<string>
  /** stop watching, and emit the final counters */
  close(): void
}

/**
 * An engine with the presets and files of a command line: presets first, then `rules`, then
 * `policy`. Null when nothing was asked for and the default action is pass.
 */
export async function startRules(o: RuleSetup): Promise<ActiveRules | null> {
  const wanted = o.blockAll === true || o.blockFileTransfers === true || o.blockWords !== undefined || (o.rules?.length ?? 0) > 0 || (o.policy?.length ?? 0) > 0 || o.defaultAction === 'block'
  if (!wanted) return null
  const engine = new RuleEngine({ clock: o.clock ?? systemClock, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.defaultAction !== undefined ? { defaultAction: o.defaultAction } : {}) })
  const emit = o.emit
  const files = new RuleFiles(engine, { watch: o.watch !== false, ...(emit !== undefined ? { emit } : {}) })
  await installPresets(engine, o)
  for (const f of o.rules ?? []) await files.add(f)
  for (const f of o.policy ?? []) await files.add(f, { policy: true })
  let last = ''
  const flush = (force: boolean): void => {
    if (emit === undefined) return
    const ev = engine.statsEvent()
    const key = JSON.stringify(ev.counters)
    if (!force && key === last) return
    last = key
    emit(ev)
  }
  const every = o.statsIntervalMs ?? 10_000
  const timer = every > 0 && emit !== undefined ? setInterval(() => flush(false), every) : null
  timer?.unref()
  return {
    engine, files,
    listing: () => engine.rules.map((r) => `${r.source}: ${r.rule.name}: ${describeRule(r.rule)}`),
    reload: async () => {
      const failures = await files.reloadAll()
      if (failures.length > 0) throw new Error(failures.map((f) => f.error).join('; '))
      return `${engine.rules.length} rules from ${engine.sources.length} sources`
    },
    close: () => {
      if (timer !== null) clearInterval(timer)
      files.close()
      flush(true)
    },
  }
}
