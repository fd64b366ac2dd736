/**
 * Runs the lab server in its own process (for tests that put it in a network namespace):
 * `lab-server-main.ts HOST DS_PORT NS_PORT SB_PORT [--gateway HOST:PORT [--gw-ip ADDRESS]] [--web HOST:PORT]`.
 * Prints `ready` once listening, then one JSON line per event:
 * - `{remoteAddress, localPort, role}`: a connection the lab server accepted;
 * - `{signedIn: account}`: an account signed in on the notification server;
 * - `{gateway: {remoteAddress, localAddress, method, url, status, refused}}`: a request the lab
 *   HTTP gateway (`--gateway`, its GW-IP `--gw-ip`, default the same address) answered;
 * - `{web: {remoteAddress, method, url, host, served}}`: a request to a tiny web server (`--web`),
 *   which answers every request with fixed bytes followed by the request body, and an upgrade
 *   request with 101 and then `echo: ` and the first bytes it gets (`served`: the body, base64).
 */
import http from 'node:http'
import { parseArgs } from 'node:util'
import { startLabGateway } from '../../src/lab/gateway.js'
import { startLabServer } from '../../src/lab/server.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { gateway: { type: 'string' }, 'gw-ip': { type: 'string' }, web: { type: 'string' } },
})
const [host, ds, ns, sb] = positionals
const line = (v: unknown): void => { process.stdout.write(JSON.stringify(v) + '\n') }
const hostPort = (text: string): [string, number] => [text.slice(0, text.lastIndexOf(':')), Number(text.slice(text.lastIndexOf(':') + 1))]

const lab = await startLabServer({ host: host!, dsPort: Number(ds), nsPort: Number(ns), sbPort: Number(sb) })
lab.on('connection', (p) => line({ remoteAddress: p.remoteAddress, localPort: p.localPort, role: p.role }))
// every sign-in goes through the hub's register
const register = lab.hub.register.bind(lab.hub)
lab.hub.register = (s) => { register(s); line({ signedIn: s.user.account }) }

const closers: (() => Promise<void>)[] = [() => lab.close()]
if (values.gateway !== undefined) {
  const [gwHost, gwPort] = hostPort(values.gateway)
  const gateway = await startLabGateway({ host: gwHost, port: gwPort, gwIp: values['gw-ip'] ?? null, backend: { ns: lab.ns, sb: lab.sb } })
  gateway.on('request', (r) => line({ gateway: { remoteAddress: r.remoteAddress, localAddress: r.localAddress, method: r.method, url: r.url, status: r.status, refused: r.refused } }))
  closers.push(() => gateway.close())
}
if (values.web !== undefined) {
  const [webHost, webPort] = hostPort(values.web)
  const page = Buffer.concat([Buffer.from('<html>lab page</html>\r\n', 'latin1'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))])
  const web = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const served = Buffer.concat([page, ...chunks])
      line({ web: { remoteAddress: req.socket.remoteAddress, method: req.method, url: req.url, host: req.headers.host, served: served.toString('base64') } })
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': served.length, 'X-Lab-Web': 'yes' })
      res.end(served)
    })
  })
  // an upgraded connection answers the first bytes it gets with `echo: ` and them, then ends
  web.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade ?? ''}\r\nConnection: Upgrade\r\n\r\n`)
    socket.once('data', (first: Buffer) => {
      const served = Buffer.concat([Buffer.from('echo: '), first])
      line({ web: { remoteAddress: req.socket.remoteAddress, method: req.method, url: req.url, host: req.headers.host, served: served.toString('base64') } })
      socket.end(served)
    })
  })
  await new Promise<void>((resolve, reject) => { web.once('error', reject); web.listen(webPort, webHost, () => resolve()) })
  closers.push(() => new Promise<void>((resolve) => { web.close(() => resolve()); web.closeAllConnections() }))
}
process.stdout.write('ready\n')
process.stdin.resume()
process.stdin.on('end', () => { void Promise.all(closers.map((c) => c())).then(() => process.exit(0)) })
