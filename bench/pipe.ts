/** The baseline relay of the proxy benchmark, in its own process: a bare Node socket pipe. */
import net from 'node:net'

const upstreamPort = Number(process.argv[2])
const server = net.createServer((client) => {
  client.setNoDelay(true)
  const up = net.connect(upstreamPort, '127.0.0.1')
  up.setNoDelay(true)
  client.pipe(up)
  up.pipe(client)
  client.on('error', () => up.destroy())
  up.on('error', () => client.destroy())
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
