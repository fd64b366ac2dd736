/** What a subcommand may touch: its streams and environment, so tests can run it in-process. */
import { MsnscopeError } from '../errors.js'

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  /** resolves when the user asks to stop (SIGINT/SIGTERM); long-running verbs wait on it */
  stopSignal: AbortSignal
}

export type Subcommand = (argv: string[], io: CliIo) => Promise<number>

export const usageError = (message: string): MsnscopeError => new MsnscopeError('EUSAGE', message)

/** Colour on a terminal, plain when piped or when NO_COLOR is set (https://no-color.org). */
export function wantsColor(io: Pick<CliIo, 'env'>, stream: { isTTY?: boolean }): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true
}

/** Write to a stream and wait for it to drain, so large outputs to pipes keep bounded memory. */
export function writeOut(stream: NodeJS.WritableStream, text: string): Promise<void> | void {
  if (!stream.write(text)) return new Promise((resolve) => stream.once('drain', () => resolve()))
}
