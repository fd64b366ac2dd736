/** The rule flags shared by `proxy` and `read`: rule scripts, policy files, presets, timeout, default action. */
import type { RuleErrorEvent, StatsEvent } from '../events.js'
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
