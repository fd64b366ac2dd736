/** Flag parsing shared by the live verbs. */
import { readFileSync } from 'node:fs'
import { FilterError, parseFilter, type EventFilter } from '../filter.js'
import { usageError } from './io.js'
import { splitHostPort } from '../transport/hub.js'

export function hostPort(flag: string, value: string, defaultPort: number): { host: string; port: number } {
  const hp = splitHostPort(value, defaultPort)
  if (hp === null) throw usageError(`${flag}: expected HOST:PORT, got "${value}"`)
  return hp
}

/** HOST:PORT where PORT may be 0 (an ephemeral port). */
export function listenAddress(flag: string, value: string, defaultPort: number): { host: string; port: number } {
  if (/:0$/.test(value)) return { host: value.replace(/:0$/, '').replace(/^\[(.*)\]$/, '$1'), port: 0 }
  return hostPort(flag, value, defaultPort)
}

export function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw usageError(`${flag}: expected a positive integer, got "${value}"`)
  return n
}

/** `30s`, `10m`, `500ms`, `2h` or plain seconds. */
export function duration(flag: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value)
  if (m === null) throw usageError(`${flag}: expected a duration such as 30s, 10m or 500ms, got "${value}"`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000))
}

/** `300MB`, `1GB`, `512` (MB). */
export function megabytes(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const m = /^(\d+)\s*(MB|M|GB|G)?$/i.exec(value)
  if (m === null) throw usageError(`${flag}: expected a size such as 300MB or 1GB, got "${value}"`)
  const n = Number(m[1])
  return /^g/i.test(m[2] ?? '') ? n * 1024 : n
}

/** `--filter EXPR`: the filter language of the dashboard (docs/tui.md); empty is no filter. */
export function filterOption(value: string | undefined): EventFilter | null {
  if (value === undefined) return null
  try {
    return parseFilter(value)
  } catch (err) {
    if (err instanceof FilterError) throw usageError(`--filter "${value}": ${err.message}`)
    throw err
  }
}


/** The process's soft limit on open files (Linux, /proc/self/limits), or null where it is unknown or unlimited. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m === null || m[1] === 'unlimited' ? null : Number(m[1])
  } catch {
    return null
  }
}

/**
 * A warning when the open-file limit is too low for `maxConnections` proxied clients (two
 * descriptors each, plus listeners and files): past it the system turns clients away before
 * msnscope sees them, so no event can say so. Null when the limit is enough or unknown.
 */
export function openFileWarning(maxConnections: number, limit = openFileLimit()): string | null {
  const need = 2 * maxConnections + 64
  if (limit === null || limit >= need) return null
  return `the open-file limit (${limit}) is below what --max-connections ${maxConnections} needs (about ${need}: two per client); ` +
    `beyond about ${Math.max(0, Math.floor((limit - 64) / 2))} clients the system would turn new ones away unseen. Raise it (ulimit -n ${need}) or lower --max-connections`
}
