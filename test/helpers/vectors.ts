/** The test vectors of the MSNP reference as byte streams, per direction and connection. */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Side } from '../../src/protocol/events.js'

interface Item { dir: 'C' | 'S'; srv?: string; wire?: string; hex?: string; raw?: string }
type Vectors = Record<string, Item[] | { stream_hex: string; frames: { line: string; payloadLength: number | null }[] }>

export const VECTORS = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/test-vectors.json', import.meta.url)), 'utf8')) as Vectors

export const itemBytes = (it: Item): Buffer =>
  it.hex !== undefined ? Buffer.from(it.hex, 'hex') : Buffer.from(it.wire ?? it.raw ?? '', 'utf8')

export interface VectorStream { name: string; from: Side; bytes: Buffer; items: Buffer[] }

/**
 * One byte stream per TV, direction and server (TV4's switchboard items are split per
 * connection: Alice's SB, then Bob's, by where each party's commands appear).
 */
export function vectorStreams(): VectorStream[] {
  const out: VectorStream[] = []
  for (const [tv, v] of Object.entries(VECTORS)) {
    if (!Array.isArray(v) || tv === 'TV5') continue
    const groups = new Map<string, Buffer[]>()
    for (const it of v) {
      const key = `${tv}/${it.srv ?? '?'}/${it.dir}`
      const list = groups.get(key) ?? []
      list.push(itemBytes(it))
      groups.set(key, list)
    }
    for (const [key, items] of groups) {
      out.push({ name: key, from: key.endsWith('/C') ? 'client' : 'server', bytes: Buffer.concat(items), items })
    }
  }
  const tv9 = VECTORS.TV9
  if (tv9 !== undefined && !Array.isArray(tv9)) {
    const bytes = Buffer.from(tv9.stream_hex, 'hex')
    out.push({ name: 'TV9/server', from: 'server', bytes, items: [] })
  }
  return out
}
