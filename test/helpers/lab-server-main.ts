/**
 * Runs the lab server in its own process (for tests that put it in a network namespace):
 * `lab-server-main.ts HOST DS_PORT NS_PORT SB_PORT`. Prints `ready` once listening, then one
 * JSON line per accepted connection ({remoteAddress, localPort, role}).
 */
import { startLabServer } from '../../src/lab/server.js'

const [host, ds, ns, sb] = process.argv.slice(2)
const lab = await startLabServer({ host: host!, dsPort: Number(ds), nsPort: Number(ns), sbPort: Number(sb) })
lab.on('connection', (p) => process.stdout.write(JSON.stringify({ remoteAddress: p.remoteAddress, localPort: p.localPort, role: p.role }) + '\n'))
process.stdout.write('ready\n')
process.stdin.resume()
process.stdin.on('end', () => { void lab.close().then(() => process.exit(0)) })
