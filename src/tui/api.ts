/**
 * What a source needs to open the dashboard: options, the handle it pushes events into, and
 * the --memory-cap parser. app.ts implements it.
 */
import type { ScopeEvent } from '../events.js'
import type { EventFilter } from '../filter.js'
import type { DashboardControls } from './actions.js'

export const DEFAULT_MEMORY_CAP = 300 * 1024 * 1024

export interface DashboardIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  /** closing the dashboard when it aborts (SIGTERM) */
  stopSignal?: AbortSignal
}

export interface DashboardOptions {
  io: DashboardIo
  /** shown in the title bar: "read capture.pcap", "proxy 127.0.0.1:1863" */
  title: string
  /** RSS to stay under, in bytes (default 300 MB); a number below 1 MiB is taken as megabytes */
  memoryCap?: number
  controls?: DashboardControls
  /** frames per second while traffic flows (default 10) */
  fps?: number
  /** where the spill file goes (default: the system temp directory) */
  spillDir?: string
  /** the view's filter at the start (`--filter`); the user may change it (f) */
  filter?: EventFilter | null
}

export interface DashboardStats {
  events: number
  frames: number
  /** frames drawn in the last second */
  fps: number
  inMemory: number
  spilledBytes: number
  peakRss: number
  /** full garbage collections the memory cap asked for */
  collections: number
  /** time spent drawing a frame */
  drawMsAvg: number
  drawMsMax: number
}

export interface Dashboard {
  push(event: ScopeEvent, options?: { held?: boolean }): void
  /** the source let a held command go by itself (timeout, connection closed) */
  released(seq: number): void
  /** show a message on the bottom line (a warning from the source, say) */
  notify(text: string, error?: boolean): void
  /** the source has no more events (end of a capture); the dashboard stays until the user quits */
  end(): void
  /** resolves after the dashboard had a turn: await it every few thousand events in a tight loop */
  idle(): Promise<void>
  close(): void
  readonly closed: Promise<void>
  readonly isClosed: boolean
  stats(): DashboardStats
}

/** `300`, `300M`, `300MB`, `1.5G`, `512k` → bytes (a bare number is megabytes). */
export function parseMemoryCap(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(text)
  if (m === null) throw new Error(`not a memory size: "${text}" (try 300M or 1G)`)
  const unit = m[2]!.toLowerCase()
  const mult = unit === 'k' ? 1024 : unit === 'g' ? 1024 ** 3 : 1024 ** 2
  const bytes = Math.round(Number(m[1]) * mult)
  if (bytes < 32 * 1024 * 1024) throw new Error(`memory cap ${text} is too small (at least 32M)`)
  return bytes
}
