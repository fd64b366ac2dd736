/**
 * `msnscope decode FILE --from client|server [--dialect MSNPn] [--json]`: decodes one raw byte
 * stream (one direction of one connection), read from a file or from standard input (`-`).
 */
import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { MsnscopeError } from '../errors.js'
import { MsnpDecoder, parseDialect } from '../protocol/decoder.js'
import type { MsnpEvent, Side } from '../protocol/events.js'
import { SessionTracker } from '../session/tracker.js'
import { Sequencer, wrapDecoderEvent } from '../session/wrap.js'
import { formatEventLine } from '../sinks/console.js'
import { toJsonLine } from '../sinks/json.js'
import { usageError, wantsColor, writeOut, type Subcommand } from './io.js'

export const DECODE_HELP = `Usage: msnscope decode FILE --from client|server [options]

Decodes one raw MSNP byte stream: the bytes one side of one connection sent (FILE, or - for
standard input), for example a stream saved from Wireshark's "Follow TCP Stream" as raw bytes.

Options:
  --from client|server   which side sent the bytes (required: payload rules depend on it)
  --dialect MSNPn        the dialect in force (default: from VER in the stream, else any)
  --json                 the JSON lines of docs/events.md instead of readable lines
  --raw                  with --json, add the exact bytes of each event (base64)
  --max-line N           longest command line accepted (default 16384)
  --max-payload N        largest payload accepted (default 1048576)
`

export const run: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      from: { type: 'string' }, dialect: { type: 'string' }, json: { type: 'boolean' }, raw: { type: 'boolean' },
      'max-line': { type: 'string' }, 'max-payload': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) { io.stdout.write(DECODE_HELP); return 0 }
  const file = positionals[0]
  if (file === undefined || positionals.length > 1) throw usageError('give exactly one FILE (or - for standard input)')
  const from = values.from
  if (from !== 'client' && from !== 'server') throw usageError('--from must be client or server')
  let dialect: number | null = null
  if (values.dialect !== undefined) {
    dialect = parseDialect(values.dialect)
    if (dialect === null) throw usageError(`--dialect: expected MSNP2 … MSNP21, got "${values.dialect}"`)
  }
  const limits = {
    ...(values['max-line'] !== undefined ? { maxLine: positiveInt('--max-line', values['max-line']) } : {}),
    ...(values['max-payload'] !== undefined ? { maxPayload: positiveInt('--max-payload', values['max-payload']) } : {}),
  }
  if (file !== '-') {
    try { await access(file) } catch (err) {
      throw new MsnscopeError('EINPUT', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
  }
  const tracker = new SessionTracker()
  const state = tracker.open({ conn: 'c1', transport: 'tcp', client: null, server: null, dialect })
  const decoder = new MsnpDecoder(from as Side, { dialect: state.dialectState, limits })
  const seq = new Sequencer()
  const color = wantsColor(io, io.stdout)
  const json = values.json === true
  const raw = values.raw === true
  let commands = 0
  let malformed = 0
  const emit = async (events: MsnpEvent[]): Promise<void> => {
    let text = ''
    for (const ev of events) {
      if (ev.kind === 'command') { commands++; tracker.observe(state, ev) } else malformed++
      const scoped = wrapDecoderEvent(state, ev, seq.next(), new Date().toISOString())
      text += (json ? toJsonLine(scoped, { raw }) : formatEventLine(scoped, { color })) + '\n'
    }
    if (text !== '') await writeOut(io.stdout, text)
  }
  const input = file === '-' ? io.stdin : createReadStream(file)
  try {
    for await (const chunk of input) await emit(decoder.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)))
  } catch (err) {
    await emit(decoder.end())
    throw new MsnscopeError('EINPUT', `reading ${file}: ${(err as Error).message}`, { cause: err })
  }
  await emit(decoder.end())
  if (!json) io.stderr.write(`${commands} commands, ${malformed} malformed\n`)
  return 0
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw usageError(`${flag}: expected a positive integer, got "${value}"`)
  return n
}
