/**
 * msnscope as a library: re-exports only. Rule scripts use the types
 * (`import type { Rule } from 'msnscope'`); programs can also decode MSNP, run the proxy and
 * the rule engine themselves.
 */

// rules
export type {
  ActionFunction, ActionType, BlockAction, CloseAction, CommandView, InjectAction, InjectCommand, LoadedRule, LogAction,
  Match, MatchFunction, MatchSpec, MaybePromise, PassAction, Pattern, RejectAction, ReplayAction, Rewriter, RewriteAction, Rule,
  RuleAction, ShortAction, TagAction,
} from './rules/rule.js'
export type { Decider, Decision, DecisionContext } from './rules/decision.js'
export { FORWARD, passThrough } from './rules/decision.js'
export { RuleEngine, type Clock, type DefaultAction, type RuleEngineOptions } from './rules/engine.js'
export { describeRule } from './rules/describe.js'
export { validateRules, checkRule } from './rules/validate.js'
export { compilePolicy, policyRules } from './rules/policy.js'
export { blockAllRules, blockFileTransferRules, blockWordsRules, parseWordList } from './rules/presets.js'
export { invitationCancel, textPayload } from './rules/answers.js'
export { maskWords } from './rules/actions.js'
export { DryRun, type DryRunHit } from './rules/dry-run.js'
export {
  installPresets, loadPolicyFile, loadRuleFile, loadRules, MAX_REPLAY_COMMANDS, RuleFiles, startRules, systemClock,
  type ActiveRules, type PresetOptions, type RuleSetup,
} from './rules/load.js'

// events and the codec
export type * from './events.js'
export type { CommandEvent, DecodedPayload, Fields, MalformedEvent, MsnpEvent, Role, Side, WireLayout } from './protocol/events.js'
export { MsnpDecoder, DEFAULT_LIMITS, type Limits } from './protocol/decoder.js'
export { encodeCommand, withPayload, type EncodableCommand } from './protocol/encoder.js'
export { MsnscopeError, type ErrorCode } from './errors.js'

// live sources
export { TcpProxy, type TcpProxyOptions } from './transport/tcp-proxy.js'
export { HttpGateway, type HttpGatewayOptions } from './transport/http-gateway.js'
export { EventHub } from './transport/hub.js'

// replay (docs/replay.md)
export { planReplay, type ReplayPlan, type PlannedConnection, type Speed } from './replay/plan.js'
export { replayClient, type ClientReplayOptions, type ReplayReport, type ReplayRun, type ReplayDifference } from './replay/client.js'
export { startReplayServer, ReplayServer, type ServeOptions, type UnmatchedPolicy } from './replay/server.js'
export { replayInjections, replayDecision, replayInjectCommands, MAX_REPLAY_TIMES, type ReplayableCommand, type ReplayActionOptions } from './replay/inject.js'
export { resendCommand, replaySession, dashboardReplay, findLiveConnection, loadReplaySequence, type LiveConnection, type ReplayTarget } from './replay/api.js'
export { loadRecording } from './replay/load.js'
