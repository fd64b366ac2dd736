#!/usr/bin/env node
/**
 * msnscope's command line: `msnscope <verb> [options]`. Each verb lives in its own file and is
 * loaded on demand. Errors a person must fix print one line and set a non-zero exit status;
 * nothing here calls process.exit.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { MsnscopeError } from '../errors.js'
import type { CliIo, Subcommand } from './io.js'

interface VerbEntry { summary: string; load: () => Promise<Subcommand> }

export const VERBS: Record<string, VerbEntry> = {
  demo: { summary: 'run the embedded lab: MSN server, scripted clients and the proxy between them', load: () => loadVerb('demo') },
  proxy: { summary: 'the live man-in-the-middle proxy (TCP 1863 and, with --http, the HTTP gateway)', load: () => loadVerb('proxy') },
  read: { summary: 'read a pcap, pcapng or saved .jsonl and show its MSNP events', load: () => loadVerb('read') },
  decode: { summary: 'decode one raw byte stream (one direction of one connection)', load: () => loadVerb('decode') },
  transcript: { summary: 'the chats of a capture as readable text', load: () => loadVerb('transcript') },
  replay: { summary: 'client replay: send the client side of a recording to a live server', load: () => loadVerb('replay') },
  serve: { summary: 'server replay: answer live clients with the server side of a recording', load: () => loadVerb('serve') },
}

/** Verbs are separate modules, loaded only when used. */
async function loadVerb(name: string): Promise<Subcommand> {
  const mod = (await import(new URL(`./${name}.js`, import.meta.url).href)) as { run: Subcommand }
  return mod.run
}

export const HELP = `msnscope: a man-in-the-middle proxy and traffic inspector for MSN Messenger (MSNP)

Usage: msnscope <verb> [options]      msnscope <verb> --help

Verbs:
${Object.entries(VERBS).map(([k, v]) => `  ${k.padEnd(11)} ${v.summary}`).join('\n')}

Options for every verb:
  -h, --help     this help, or the verb's own with a verb
  --version      print the version
`

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv
  if (verb === undefined || verb === '-h' || verb === '--help' || verb === 'help') {
    io.stdout.write(HELP)
    return verb === undefined ? 2 : 0
  }
  if (verb === '--version') {
    io.stdout.write('msnscope 0.1.0\n')
    return 0
  }
  const entry = VERBS[verb]
  if (entry === undefined) {
    io.stderr.write(`msnscope: unknown verb "${verb}" (try msnscope --help)\n`)
    return 2
  }
  try {
    const run = await entry.load()
    return await run(rest, io)
  } catch (err) {
    if (err instanceof MsnscopeError) {
      io.stderr.write(`msnscope ${verb}: ${err.message}\n`)
      return err.code === 'EUSAGE' ? 2 : 1
    }
    if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      io.stderr.write(`msnscope ${verb}: ${err.message}\n`)
      return 2
    }
    if (err instanceof Error && /^ERR_PARSE_ARGS/.test(String((err as NodeJS.ErrnoException).code))) {
      io.stderr.write(`msnscope ${verb}: ${err.message}\n`)
      return 2
    }
    io.stderr.write(`msnscope ${verb}: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    return 70
  }
}

function isEntryPoint(): boolean {
  const arg = process.argv[1]
  if (arg === undefined) return false
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  const controller = new AbortController()
  const stop = (): void => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') controller.abort() })
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, stopSignal: controller.signal }
  main(process.argv.slice(2), io).then((code) => { process.exitCode = code }, (err) => {
    process.stderr.write(`msnscope: ${String(err)}\n`)
    process.exitCode = 70
  })
}
