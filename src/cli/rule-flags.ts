/** The rule flags shared by `proxy` and `read`: rule scripts, policy files, presets, timeout, default action. */
import type { EventSink, RuleErrorEvent, StatsEvent } from '../events.js'
import { DryRun } from '../rules/dry-run.js'
import { startRules, type ActiveRules } from '../rules/load.js'
import { usageError } from './io.js'
import { duration } from './options.js'

export const RULE_OPTIONS = {
  rules: { type: 'string', multiple: true },
  policy: { type: 'string', multiple: true },
  'block-all': { type: 'boolean' },
  'block-file-transfers': { type: 'boolean' },
  'block-words': { type: 'string' },
  'rule-timeout': { type: 'string' },
  'default-action': { type: 'string' },
} as const

export const RULE_HELP = `Rules (docs/rules.md):
  --rules FILE             a rule script (.ts, .js) or policy file (.yaml); repeatable;
                           reloaded when it changes
  --policy FILE            a policy file (YAML); repeatable
  --block-all              block everything MSN: clients are refused at sign-in
  --block-file-transfers   decline every file-transfer invitation
  --block-words FILE       block messages with any word listed in FILE (one per line)
  --rule-timeout TIME      how long an asynchronous rule may take (default 50ms)
  --default-action ACTION  pass or block: for commands no rule decides, and when a
                           rule times out (default pass)
`

export const READ_RULE_HELP = `Rules, as a dry run: what they would do to this capture (docs/rules.md):
  --rules FILE             a rule script (.ts, .js) or policy file (.yaml); repeatable
  --policy FILE            a policy file (YAML); repeatable
  --block-all, --block-file-transfers, --block-words FILE
                           the presets of msnscope proxy
  --rule-timeout TIME      how long an asynchronous rule may take (default 50ms)
  --default-action ACTION  pass or block: for commands no rule decides (default pass)
`

export interface RuleFlagValues {
  rules?: string[]
  policy?: string[]
  'block-all'?: boolean
  'block-file-transfers'?: boolean
  'block-words'?: string
  'rule-timeout'?: string
  'default-action'?: string
}

export interface RuleFlagContext {
  /** watch and reload files (the proxy does; a capture is read once) */
  watch: boolean
  emit?: (ev: Omit<RuleErrorEvent, 'seq' | 'ts'> | Omit<StatsEvent, 'seq' | 'ts'>) => void
  statsIntervalMs?: number
}

/** The rules the flags ask for, loaded; null when none were asked for. */
export async function rulesFromFlags(v: RuleFlagValues, ctx: RuleFlagContext): Promise<ActiveRules | null> {
  const action = v['default-action']
  if (action !== undefined && action !== 'pass' && action !== 'block') throw usageError(`--default-action: expected pass or block, got "${action}"`)
  return startRules({
    ...(v.rules !== undefined ? { rules: v.rules } : {}),
    ...(v.policy !== undefined ? { policy: v.policy } : {}),
    ...(v['block-all'] === true ? { blockAll: true } : {}),
    ...(v['block-file-transfers'] === true ? { blockFileTransfers: true } : {}),
    ...(v['block-words'] !== undefined ? { blockWords: v['block-words'] } : {}),
    timeoutMs: duration('--rule-timeout', v['rule-timeout'], 50),
    ...(action !== undefined ? { defaultAction: action } : {}),
    watch: ctx.watch,
    ...(ctx.emit !== undefined ? { emit: ctx.emit } : {}),
    ...(ctx.statsIntervalMs !== undefined ? { statsIntervalMs: ctx.statsIntervalMs } : {}),
  })
}

export interface RuleDryRunSink {
  /** give every event of the capture here */
  sink: EventSink
  /** resolves when asynchronous rules have decided what was given so far */
  drain(): Promise<void>
  /** after the last event: the final `stats` event goes to the sink; returns the text report ('' without rules) */
  finish(): Promise<string>
}

/** A capture's events through the rules as a dry run (or straight through when there are none). */
export function dryRunInto(rules: ActiveRules | null, next: EventSink): RuleDryRunSink {
  if (rules === null) return { sink: next, drain: async () => {}, finish: async () => '' }
  const dry = new DryRun(rules.engine, next)
  return {
    sink: dry.sink,
    drain: () => dry.drain(),
    finish: async () => {
      await dry.drain()
      next(dry.finalStats())
      return dry.render()
    },
  }
}
