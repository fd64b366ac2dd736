/**
 * Runs the lab scenario in its own process: `lab-client-main.ts HOST PORT DIALECT`. Prints the
 * summary as one JSON line, or `{"error": …}` and exits 1 when the scenario failed.
 */
import { runLabScenario } from '../../src/lab/scenario.js'

const [host, port, dialect] = process.argv.slice(2)
try {
  const summary = await runLabScenario({ serverHost: host!, port: Number(port), dialect: Number(dialect) })
  process.stdout.write(JSON.stringify(summary) + '\n')
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err) }) + '\n')
  process.exitCode = 1
}
