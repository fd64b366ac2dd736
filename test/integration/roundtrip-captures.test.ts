import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { encodeCommand } from '../../src/protocol/encoder.js'
import type { ScopeEvent } from '../../src/events.js'
import { importCapture } from '../../src/transport/pcap-import.js'

const SHARED = fileURLToPath(new URL('../../../shared/captures/', import.meta.url))
const ours = fileURLToPath(new URL('../../captures/', import.meta.url))
const files = [
  ...(existsSync(SHARED) ? readdirSync(SHARED).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(SHARED, f)) : []),
  ...readdirSync(ours).filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f)).map((f) => join(ours, f)),
]

test('every command of every capture re-encodes to its exact bytes, with the raw bytes taken away first', async () => {
  assert.ok(files.length > 0)
  if (!existsSync(SHARED)) process.stderr.write('# ../shared/captures is absent: only the project\'s own captures\n')
  let commands = 0
  for (const file of files) {
    const events: ScopeEvent[] = []
    await importCapture(file, (e) => events.push(e))
    for (const e of events) {
      if (e.kind !== 'command') continue
      const { raw, ...rest } = e.command
      const again = encodeCommand({ verb: rest.verb, trId: rest.trId, args: rest.args, payloadRaw: rest.payloadRaw, ...(rest.wire !== undefined ? { wire: rest.wire } : {}) })
      assert.ok(again.equals(raw), `${file} ${e.conn} ${raw.toString('latin1').split('\r\n')[0]}`)
      commands++
    }
  }
  assert.ok(commands > 25)
})
