/**
 * Runs the lab scenario in its own process: `lab-client-main.ts HOST PORT DIALECT [--gateway HOST:PORT]`.
 * With `--gateway`, the clients reach the servers through the HTTP gateway at that address
 * (as clients do when TCP 1863 is blocked). Prints the summary as one JSON line, or
 * `{"error": …}` and exits 1 when the scenario failed.
 */
import { parseArgs } from 'node:util'
import { gatewayTransport } from '../../src/lab/gateway.js'
import { runLabScenario } from '../../src/lab/scenario.js'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { gateway: { type: 'string' } } })
const [host, port, dialect] = positionals
const gw = values.gateway
const transport = gw === undefined ? undefined : gatewayTransport({ gateway: { host: gw.slice(0, gw.lastIndexOf(':')), port: Number(gw.slice(gw.lastIndexOf(':') + 1)) } })
try {
  const summary = await runLabScenario({ serverHost: host!, port: Number(port), dialect: Number(dialect), ...(transport !== undefined ? { transport } : {}) })
  process.stdout.write(JSON.stringify(summary) + '\n')
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err) }) + '\n')
  process.exitCode = 1
}
