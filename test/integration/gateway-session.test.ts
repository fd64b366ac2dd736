/**
 * A full lab session (three clients, two switchboards) entirely over the HTTP gateway, through
 * msnscope in reverse mode and in forward-proxy mode. Its command events match those of the
 * same session over TCP, verb for verb, except where the gateway differs (http-gateway.md: no
 * PNG/QNG, no dispatch leg with its XFR NS). The lab gateway sees every request come from
 * msnscope's outgoing address and nothing else.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ScopeEvent } from '../../src/events.js'
import { gatewayTransport, startLabGateway } from '../../src/lab/gateway.js'
import { runLabScenario, SCENARIO_FILES, SCENARIO_TEXTS } from '../../src/lab/scenario.js'
import { startLabServer } from '../../src/lab/server.js'
import { HttpGateway } from '../../src/transport/http-gateway.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { Events } from './gateway-helpers.js'

const LAB_HOST = '127.0.0.3'
const DIAL_FROM = '127.0.0.4'

/**
 * Verbs per connection and direction, keyed by account, role and (for switchboards) the order
 * in which that account's switchboards opened. The dispatch leg and PNG/QNG are left out. Server
 * lines are compared up to the first sign-out (OUT on a notification connection): from there on
 * three clients leave at once and what reaches whom first is a race even over TCP.
 */
function verbStreams(events: readonly ScopeEvent[]): Map<string, string[]> {
  // a connection is known by what it turned out to be: its last account and role
  const last = new Map<string, { account: string | null | undefined; role: string }>()
  for (const e of events) if (e.kind === 'command') last.set(e.conn, { account: e.account, role: e.role })
  const key = new Map<string, string>()
  const switchboards = new Map<string, number>()
  for (const [conn, { account, role }] of last) {
    if (role === 'DS') continue
    const n = role === 'SB' ? (switchboards.get(String(account)) ?? 0) + 1 : 0
    if (role === 'SB') switchboards.set(String(account), n)
    key.set(conn, `${String(account)} ${role}${role === 'SB' ? n : ''}`)
  }
  const out = new Map<string, string[]>()
  let signingOut = false
  for (const e of events) {
    if (e.kind !== 'command' || !key.has(e.conn)) continue
    const c = e.command
    if (c.verb === 'PNG' || c.verb === 'QNG') continue
    if (c.from === 'client' && c.verb === 'OUT' && e.role === 'NS') signingOut = true
    if (c.from === 'server' && signingOut) continue
    const k = `${key.get(e.conn)!} ${c.from}`
    out.set(k, [...(out.get(k) ?? []), c.verb])
  }
  return out
}

async function overTcp(t: import('node:test').TestContext, dialect: number): Promise<Map<string, string[]>> {
  const lab = await startLabServer({ host: LAB_HOST })
  t.after(() => lab.close())
  const events = new Events()
  const proxy = new TcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: lab.ds, dialFrom: DIAL_FROM })
  proxy.addSink(events.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  await runLabScenario({ serverHost: addr.host, port: addr.port, dialect })
  return verbStreams(events.all)
}

for (const [mode, dialect] of [['reverse', 12], ['forward-proxy', 18]] as const) {
  test(`a full MSNP${dialect} lab session over the gateway through msnscope in ${mode} mode matches the same session over TCP`, async (t) => {
    const expected = await overTcp(t, dialect)

    const lab = await startLabServer({ host: LAB_HOST })
    t.after(() => lab.close())
    const gateway = await startLabGateway({ host: LAB_HOST, backend: { ns: lab.ns, sb: lab.sb }, allow: (p) => p.remoteAddress === DIAL_FROM, pollHoldMs: 50 })
    t.after(() => gateway.close())
    const events = new Events()
    const scope = new HttpGateway({ listen: { host: '127.0.0.1', port: 0 }, upstream: gateway.address, dialFrom: DIAL_FROM })
    scope.addSink(events.sink)
    const addr = await scope.start()
    t.after(() => scope.close())

    const transport = mode === 'reverse'
      ? gatewayTransport({ gateway: addr, pollIntervalMs: 20 })
      : gatewayTransport({ gateway: gateway.address, proxy: addr, pollIntervalMs: 20 })
    const summary = await runLabScenario({ serverHost: 'messenger.hotmail.com', port: 1863, dialect, transport })
    const [alice, bob, carol] = summary.clients
    assert.ok(bob!.texts.includes(SCENARIO_TEXTS.hello))
    assert.ok(alice!.texts.includes(SCENARIO_TEXTS.reply))
    assert.ok(carol!.texts.includes(SCENARIO_TEXTS.second))
    assert.deepEqual(carol!.invitations, [SCENARIO_FILES.accepted])
    for (const c of summary.clients) assert.equal(c.sentByVerb.PNG, undefined, 'no PNG through the gateway')
    await Promise.all(events.of('session-open').map((o) => events.waitFor('session-close', (c) => c.conn === o.conn)))

    // the same commands, in the same order, as over TCP
    const actual = verbStreams(events.all)
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort())
    for (const [k, verbs] of expected) assert.deepEqual(actual.get(k), verbs, k)

    // every request reached the lab gateway from msnscope, both at its address and at its GW-IP
    assert.ok(gateway.requests.length > 20)
    assert.deepEqual(new Set(gateway.requests.map((r) => r.remoteAddress)), new Set([DIAL_FROM]))
    assert.ok(gateway.requests.every((r) => !r.refused && r.status === 200), 'no refused or failed request')
    assert.deepEqual(new Set(gateway.requests.map((r) => r.localAddress)), new Set([LAB_HOST, gateway.gwIp]))

    // three notification and four switchboard sessions, each opened and closed once, on transport http
    const opens = events.of('session-open')
    assert.equal(opens.length, 7)
    assert.ok(opens.every((o) => o.transport === 'http'))
    assert.deepEqual(events.of('session-close').map((c) => c.conn).sort(), opens.map((o) => o.conn).sort())
    for (const c of events.of('session-close')) assert.match(c.reason, /^gateway closed the session/)
    // switchboards are linked to the notification session that handed out their cookie, and inherit its dialect
    const ns = new Set(opens.filter((o) => o.role === 'NS').map((o) => o.conn))
    const sbs = opens.filter((o) => o.role === 'SB')
    assert.equal(sbs.length, 4)
    for (const sb of sbs) {
      assert.ok(sb.parent !== undefined && ns.has(sb.parent), `${sb.conn} linked to ${sb.parent ?? 'nothing'}`)
      assert.equal(sb.dialect, dialect)
      for (const c of events.of('command', sb.conn)) assert.equal(c.dialect, dialect)
    }
    assert.deepEqual(new Set(sbs.map((s) => s.via)), new Set(['XFR', 'RNG']))

    // GW-IP: rewritten to msnscope in reverse mode, left alone in forward-proxy mode
    const redirects = events.of('redirect')
    assert.equal(redirects.length, 7)
    for (const r of redirects) {
      assert.equal(r.verb, 'GW-IP')
      assert.equal(r.real, gateway.gwIp)
      assert.equal(r.handedOut, mode === 'reverse' ? `127.0.0.1:${addr.port}` : null)
    }

    // empty polls are counted, not reported: every http event carries something
    const stats = scope.stats
    assert.ok(stats.emptyPolls > 0, 'some polls were empty')
    const http = events.of('http')
    assert.ok(http.length < stats.requests * 2)
    for (const h of http.filter((e) => e.from === 'client' && e.action === 'poll')) {
      const answer = http.find((a) => a.conn === h.conn && a.seq > h.seq && a.from === 'server')
      assert.ok(answer !== undefined && (answer.bodyLength > 0 || answer.sessionClose === true), `poll ${h.seq} reported with an empty answer`)
    }
    await scope.close()
    const last = events.of('stats').at(-1)
    assert.equal(last?.counters.emptyPolls, stats.emptyPolls)
  })
}
