/**
 * Replay of a capture nobody here made: the switchboard session of ppa-msnms.pcap (from
 * ../shared/captures/, skipped when that folder is absent) served by msnscope and replayed
 * against it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ScopeEvent } from '../../src/events.js'
import { loadRecording } from '../../src/replay/load.js'
import { planReplay } from '../../src/replay/plan.js'
import { replayClient } from '../../src/replay/client.js'
import { startReplayServer } from '../../src/replay/server.js'

const CAPTURE = fileURLToPath(new URL('../../../shared/captures/ppa-msnms.pcap', import.meta.url))
const skip = existsSync(CAPTURE) ? false : 'needs ../shared/captures/ppa-msnms.pcap'

test('ppa-msnms.pcap served and its client side replayed against it: complete, no differences', { skip }, async (t) => {
  const recording = await loadRecording(CAPTURE)
  const plan = planReplay(recording.events)
  assert.equal(plan.connections.length, 1)
  const conn = plan.connections[0]!
  assert.equal(conn.role, 'SB')
  assert.deepEqual([conn.sends.length, conn.expects.length], [14, 11])
  // switchboard TrIDs of the capture start at 93; the replay numbers from 1
  assert.deepEqual([conn.sends[0]!.command.trId, conn.sends[0]!.liveTrId], [93, 1])

  const served: ScopeEvent[] = []
  const serve = await startReplayServer(plan, { listen: { host: '127.0.0.3', port: 0 }, sink: (e) => { served.push(e) } })
  t.after(() => serve.close())
  const live: ScopeEvent[] = []
  const report = await replayClient(plan, { to: serve.address, sink: (e) => { live.push(e) } }).done
  assert.deepEqual(report.differences, [])
  assert.equal(report.completed, true)
  assert.deepEqual(report.connections.map((c) => [c.recorded, c.sent, c.received, c.completed]), [['c1', 14, 11, true]])

  const recordedVerbs = recording.events.flatMap((e) => e.kind === 'command' ? [`${e.command.from} ${e.command.verb}`] : [])
  const liveVerbs = live.flatMap((e) => e.kind === 'command' ? [`${e.command.from} ${e.command.verb}`] : [])
  assert.deepEqual(liveVerbs, recordedVerbs)
  const trIds = served.flatMap((e) => e.kind === 'command' && e.command.from === 'client' ? [e.command.trId] : [])
  assert.deepEqual(trIds, Array.from({ length: 14 }, (_, i) => i + 1))
  assert.deepEqual(served.filter((e) => e.kind === 'unmatched'), [])
})

test('ppa-msnms.pcap at the recording\'s pacing (a thousand times faster): same result', { skip }, async (t) => {
  const plan = planReplay((await loadRecording(CAPTURE)).events)
  const serve = await startReplayServer(plan, { listen: { host: '127.0.0.3', port: 0 }, speed: 1000 })
  t.after(() => serve.close())
  const started = Date.now()
  const report = await replayClient(plan, { to: serve.address, speed: 1000 }).done
  assert.deepEqual(report.differences, [])
  assert.equal(report.completed, true)
  // the capture spans about 62 s; paced, the replay cannot be instant
  assert.ok(Date.now() - started >= 30, 'paced')
})
