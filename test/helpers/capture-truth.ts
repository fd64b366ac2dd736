/**
 * Ground truth from the shared synthetic capture generator (../shared/tools/gen_msnp_pcap.py
 * --truth): generating captures into a temporary folder, and comparing imported events with the
 * truth, command by command, per connection and direction.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { crc32 } from 'node:zlib'
import type { ScopeEvent } from '../../src/events.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const sharedDir = path.resolve(repoRoot, '..', 'shared')
export const generator = path.join(sharedDir, 'tools', 'gen_msnp_pcap.py')
export const checker = path.join(sharedDir, 'tools', 'check_msnp_truth.py')

/** Why generated-capture tests cannot run here, or null when they can. */
export function generatorMissing(): string | null {
  if (!existsSync(generator)) return `${generator} is absent`
  const py = spawnSync('python3', ['--version'], { encoding: 'utf8' })
  if (py.error !== undefined || py.status !== 0) return 'python3 is not installed'
  return null
}

export interface TruthCommand { cmd: string; params: string[]; payload_len: number | null; payload_crc32?: string }
export interface TruthStream {
  index: number
  kind: string
  transport: 'tcp' | 'http-gateway'
  dialect: string
  client: { ip: string; port: number }
  server: { ip: string; port: number }
  c2s: TruthCommand[]
  s2c: TruthCommand[]
  http?: Array<{ action: string; session_id: string; x_msn_messenger: string; req_body_len: number; resp_body_len: number; target: string }>
}
export interface Truth { streams: TruthStream[] }

/** A temporary folder removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'msnscope-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Run the generator; returns the capture path and its truth. */
export function generate(dir: string, name: string, args: string[]): { pcap: string; truthFile: string; truth: Truth } {
  const pcap = path.join(dir, `${name}.pcap`)
  const truthFile = path.join(dir, `${name}.truth.json`)
  const r = spawnSync('python3', [generator, '--quiet', '--out', pcap, '--truth', truthFile, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`generator failed: ${r.stderr}`)
  return { pcap, truthFile, truth: JSON.parse(readFileSync(truthFile, 'utf8')) as Truth }
}

/** "2001:db8:1:0:0:0:a01:2" → "[2001:db8:1::a01:2]:1863", as msnscope writes endpoints. */
export function endpoint(ip: string, port: number): string {
  if (!ip.includes(':')) return `${ip}:${port}`
  return `${new URL(`http://[${ip}]/`).hostname}:${port}`
}

/**
 * The truth's view of one command event: name, every token after it, payload length and CRC-32.
 *
 * One known difference of definitions, not of framing: the reference (framing.md, section 4)
 * counts the server's `UUX t 0` as a command with an empty payload, which is how msnscope's
 * decoder reads it (payloadLength 0); the generator's truth lists it without a payload. The
 * bytes framed are the same, so that one shape is compared as the truth writes it.
 */
export function asTruth(ev: ScopeEvent): TruthCommand {
  if (ev.kind !== 'command') throw new Error('not a command')
  const c = ev.command
  const nl = c.raw.indexOf(0x0a)
  const line = c.raw.toString('utf8', 0, nl > 0 && c.raw[nl - 1] === 0x0d ? nl - 1 : nl)
  const tokens = line.split(' ')
  const emptyUuxAck = c.from === 'server' && c.verb === 'UUX' && c.payloadLength === 0
  const rec: TruthCommand = { cmd: tokens[0]!, params: tokens.slice(1), payload_len: emptyUuxAck ? null : c.payloadLength }
  if (c.payloadRaw !== null && !emptyUuxAck) rec.payload_crc32 = crc32(c.payloadRaw).toString(16).padStart(8, '0')
  return rec
}

/** The structured fields say the same as the raw line (TrID, args, payload length). */
export function structuredParams(ev: ScopeEvent): string[] {
  if (ev.kind !== 'command') throw new Error('not a command')
  const c = ev.command
  return [...(c.trId !== null ? [String(c.trId)] : []), ...c.args, ...(c.payloadLength !== null ? [String(c.payloadLength)] : [])]
}

export interface Mismatch { stream: number; dir: string; index: number; got: unknown; want: unknown }

/**
 * Compare every command with the truth, per stream and direction. Gateway streams may hold
 * several gateway sessions one after the other; their connections are taken in order.
 */
export function compareWithTruth(events: ScopeEvent[], truth: Truth): { mismatches: Mismatch[]; commands: number; unmatched: string[] } {
  const byConn = new Map<string, { key: string; c2s: TruthCommand[]; s2c: TruthCommand[] }>()
  for (const ev of events) {
    if (ev.kind !== 'command') continue
    let entry = byConn.get(ev.conn)
    if (entry === undefined) {
      entry = { key: `${ev.client}|${ev.server}`, c2s: [], s2c: [] }
      byConn.set(ev.conn, entry)
    }
    ;(ev.command.from === 'client' ? entry.c2s : entry.s2c).push(asTruth(ev))
  }
  const byKey = new Map<string, { c2s: TruthCommand[]; s2c: TruthCommand[] }>()
  const order = [...byConn.keys()].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
  for (const id of order) {
    const e = byConn.get(id)!
    const k = byKey.get(e.key) ?? { c2s: [], s2c: [] }
    k.c2s.push(...e.c2s)
    k.s2c.push(...e.s2c)
    byKey.set(e.key, k)
  }
  const mismatches: Mismatch[] = []
  let commands = 0
  const seen = new Set<string>()
  for (const st of truth.streams) {
    const key = `${endpoint(st.client.ip, st.client.port)}|${endpoint(st.server.ip, st.server.port)}`
    seen.add(key)
    const got = byKey.get(key) ?? { c2s: [], s2c: [] }
    for (const dir of ['c2s', 's2c'] as const) {
      const want = st[dir]
      commands += want.length
      const n = Math.max(want.length, got[dir].length)
      for (let i = 0; i < n; i++) {
        const g = got[dir][i]
        const w = want[i]
        if (JSON.stringify(g) !== JSON.stringify(w)) { mismatches.push({ stream: st.index, dir, index: i, got: g, want: w }); break }
      }
    }
  }
  const unmatched = [...byKey.keys()].filter((k) => !seen.has(k))
  return { mismatches, commands, unmatched }
}
