import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CLI = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts')]

function demo(dir: string, extra: string[]): { json: Record<string, unknown>[]; saved: Record<string, unknown>[]; pcap: Buffer } {
  const out = execFileSync(CLI[0]!, [...CLI.slice(1), 'demo', '--once', '--json', '--transport', 'tcp', '--dialect', 'MSNP12',
    '--save', join(dir, 'run.jsonl'), '--save', join(dir, 'run.pcap'), ...extra], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  const parse = (text: string): Record<string, unknown>[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  return { json: parse(out), saved: parse(readFileSync(join(dir, 'run.jsonl'), 'utf8')), pcap: readFileSync(join(dir, 'run.pcap')) }
}

const raw = (e: Record<string, unknown>): Buffer => Buffer.from(String(e.raw), 'base64')

test('demo --json and --save: the same events on stdout and in the file, secrets masked in saved files only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-save-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { json, saved, pcap } = demo(dir, [])
  assert.ok(json.length > 100)
  assert.deepEqual(saved.map((e) => [e.seq, e.kind, e.verb]), json.map((e) => [e.seq, e.kind, e.verb]))
  assert.ok(saved.every((e) => e.kind !== 'command' || typeof e.raw === 'string'), 'saved commands keep their bytes')

  const tickets = json.filter((e) => e.kind === 'command' && e.verb === 'USR' && e.from === 'client' && (e.args as string[])[1] === 'S')
  assert.ok(tickets.length >= 3)
  for (const live of tickets) {
    const s = saved.find((e) => e.seq === live.seq)!
    const ticket = (live.args as string[])[2]!
    assert.notEqual((s.args as string[])[2], ticket, 'the Passport ticket is masked')
    assert.equal((s.args as string[])[2]!.length, ticket.length, 'with one of the same length')
    assert.equal(raw(s).length, Number(s.rawLength ?? raw(s).length))
    assert.ok(!pcap.includes(Buffer.from(ticket)), 'nor is it in the pcap')
  }
  // a switchboard cookie masked the same way in XFR and in the switchboard's USR
  const xfr = saved.find((e) => e.kind === 'command' && e.from === 'server' && e.verb === 'XFR' && (e.args as string[])[0] === 'SB')!
  const liveXfr = json.find((e) => e.seq === xfr.seq)!
  const cookie = (xfr.args as string[])[3]!
  assert.notEqual(cookie, (liveXfr.args as string[])[3])
  const sbUsr = saved.find((e) => e.kind === 'command' && e.verb === 'USR' && e.role === 'SB' && e.from === 'client' && (e.args as string[])[1] === cookie)
  assert.ok(sbUsr !== undefined, 'the masked cookie still links the switchboard to its XFR')

  // tshark, when installed, opens the pcap and sees the MSNP commands
  const tshark = spawnSync('tshark', ['-r', join(dir, 'run.pcap'), '-d', 'tcp.port==1-65535,msnms', '-Y', 'msnms', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' })
  if (tshark.error === undefined && tshark.status === 0) {
    assert.ok(tshark.stdout.trim().split('\n').length >= json.filter((e) => e.kind === 'command').length * 0.9)
    const expert = spawnSync('tshark', ['-r', join(dir, 'run.pcap'), '-Y', 'tcp.analysis.flags && !tcp.analysis.window_update'], { encoding: 'utf8' })
    assert.equal(expert.stdout.trim(), '', 'no TCP analysis warnings: sequence numbers are consistent')
  } else t.diagnostic('tshark not installed: pcap not checked with it')
})

test('--no-redact keeps the secrets in saved files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-save-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { json, saved } = demo(dir, ['--no-redact'])
  void json
  const usr = saved.filter((e) => e.kind === 'command' && e.verb === 'USR' && e.from === 'client' && (e.args as string[])[1] === 'S')
  assert.ok(usr.length > 0)
  for (const e of usr) assert.match((e.args as string[])[2]!, /^t=.*&p=/)
})
