/**
 * Makes the sample captures in captures/ with the shared generator (../shared/tools/
 * gen_msnp_pcap.py), and the pcapng one by converting a generated pcap with our own writer.
 * Run: node --import tsx test/helpers/make-captures.ts; then UPDATE_GOLDEN=1 npm test to write
 * their expected events, and review the diff.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PcapReader } from '../../src/pcap/pcap-file.js'
import { generate, generatorMissing, repoRoot, tempDir } from './capture-truth.js'
import { pcapngFile, type NgPacket } from './pcap-build.js'

const small = ['--messages-per-sb', '3', '--sb-per-session', '1', '--contacts', '4', '--file-rate', '0']

/** name, generator arguments */
export const SAMPLES: Array<[string, string[]]> = [
  ['msnp-tcp', ['--sessions', '2', '--seed', '3', '--gateway-rate', '0', '--p2p-rate', '0.5', ...small]],
  ['msnp-gateway', ['--sessions', '2', '--seed', '2', '--gateway-rate', '1', '--p2p-rate', '0', ...small]],
  ['msnp-ipv6-sll', ['--sessions', '1', '--seed', '4', '--gateway-rate', '0', '--ipv6', '--sll', '--p2p-rate', '0', ...small]],
  ['msnp-reordered', ['--sessions', '1', '--seed', '4', '--gateway-rate', '0', '--ooo-rate', '0.3', '--retrans-rate', '0.3', '--split-rate', '0.3', '--p2p-rate', '0', ...small]],
]

/** A classic pcap as pcapng: client-to-server packets on a microsecond interface, the rest on a nanosecond one. */
export function toPcapng(pcap: Buffer): Buffer {
  const r = new PcapReader()
  const recs = r.push(pcap)
  const linkType = r.header!.linkType
  const packets: NgPacket[] = recs.map((rec) => {
    const toServer = rec.data.readUInt16BE(14 + 20 + 2) === 1863
    return { iface: toServer ? 0 : 1, tsUs: rec.tsUs, data: Buffer.from(rec.data) }
  })
  return pcapngFile([{ linkType }, { linkType, tsresol: 9 }], packets)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]).endsWith('make-captures.ts')) {
  const missing = generatorMissing()
  if (missing !== null) throw new Error(missing)
  const tmp = tempDir()
  try {
    for (const [name, args] of SAMPLES) {
      const { pcap } = generate(tmp.dir, name, args)
      const bytes = readFileSync(pcap)
      const out = name === 'msnp-reordered' ? path.join(repoRoot, 'captures', `${name}.pcapng`) : path.join(repoRoot, 'captures', `${name}.pcap`)
      writeFileSync(out, name === 'msnp-reordered' ? toPcapng(bytes) : bytes)
      console.log(`${path.relative(repoRoot, out)}: ${bytes.length} bytes`)
    }
  } finally {
    tmp.remove()
  }
}
