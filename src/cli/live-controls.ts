/**
 * The dashboard's controls for a live proxy: intercept and release at the shared decision
 * point, replay of a selected command (into its own connection) or session (against the proxy,
 * so the replay shows up live), and rule reloads.
 */
import type { EventFilter } from '../filter.js'
import { dashboardReplay, type DashboardReplayRequest } from '../replay/api.js'
import { passThrough, type Decider } from '../rules/decision.js'
import type { EventHub } from '../transport/hub.js'
import { Interceptor } from '../transport/intercept.js'
import type { TcpProxy } from '../transport/tcp-proxy.js'

export interface LiveControls {
  interceptor: Interceptor
  controls: Record<string, unknown>
  /** the decider to install on every transport: rules, then intercept */
  decider: Decider
  /** call once the proxy listens */
  attach(proxy: TcpProxy): void
}

export function liveControls(hub: EventHub, rules: { decide: Decider; reload: () => unknown } | null): LiveControls {
  const interceptor = new Interceptor(hub)
  let replay: ((r: DashboardReplayRequest) => Promise<string>) | null = null
  const controls: Record<string, unknown> = {
    intercept: (filter: EventFilter | null) => {
      if (filter === null) interceptor.releaseAll()
      else interceptor.filter = filter
    },
    release: (seq: number, edited?: Buffer) => { interceptor.release(seq, edited) },
    replay: (r: DashboardReplayRequest) => replay === null ? 'the proxy is not listening yet' : replay(r),
  }
  if (rules !== null) controls.reloadRules = () => rules.reload()
  const decide = rules?.decide ?? passThrough
  return {
    interceptor, controls,
    decider: interceptor.wrap(() => decide),
    attach: (proxy) => { replay = dashboardReplay({ relays: proxy.relays, server: proxy.address }) },
  }
}
