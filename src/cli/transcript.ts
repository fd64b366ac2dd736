/**
 * `msnscope transcript FILE`: the chats of a capture (or saved JSONL) as readable text, one
 * block per switchboard: time, sender, recipients and text, with typing and nudges marked.
 */
import { parseArgs } from 'node:util'
import { TranscriptWriter } from '../sinks/transcript.js'
import { importCapture } from '../transport/pcap-import.js'
import { usageError, type Subcommand } from './io.js'
import { captureInput, parsePorts } from './read.js'

export const TRANSCRIPT_HELP = `Usage: msnscope transcript FILE [options]

The chats in a capture (pcap, pcapng, saved JSONL; gzip-compressed or not; - for standard input)
as readable text, one block per switchboard: time (UTC), sender -> recipients, and the message.
Typing notifications are marked [typing], nudges [nudge].

Options:
  --port N       decode TCP port N as MSNP whatever it holds (repeatable)
  --no-typing    leave typing notifications out
  -h, --help     this help
`

export const run: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { port: { type: 'string', multiple: true }, 'no-typing': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help === true) { io.stdout.write(TRANSCRIPT_HELP); return 0 }
  const file = positionals[0]
  if (file === undefined || positionals.length > 1) throw usageError('give exactly one FILE (or - for standard input)')
  const { source, ...input } = captureInput(file, io)
  let pending = ''
  const writer = new TranscriptWriter((text) => { pending += text }, { typing: values['no-typing'] !== true })
  const flush = (): Promise<void> | void => {
    if (pending === '') return
    const text = pending
    pending = ''
    if (!io.stdout.write(text)) return new Promise((resolve) => io.stdout.once('drain', () => resolve()))
  }
  const result = await importCapture(source, (e) => writer.push(e), { ...input, ports: parsePorts(values.port ?? []), drain: flush })
  writer.end()
  await flush()
  for (const w of result.warnings) io.stderr.write(`msnscope transcript: warning: ${w}\n`)
  if (writer.chats === 0) io.stderr.write(`msnscope transcript: no chats in ${result.name}\n`)
  return 0
}
