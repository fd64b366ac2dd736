/**
 * The upstream of the proxy benchmark, in its own process: an MSNP server that answers every
 * command at once (ACK for MSG, QNG for PNG, an echo for the rest). Prints its port.
 */
import net from 'node:net'
import { MsnpDecoder } from '../src/protocol/decoder.js'
import { encodeCommand } from '../src/protocol/encoder.js'

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  const d = new MsnpDecoder('client', { decode: false })
  socket.on('data', (chunk: Buffer) => {
    const out: Buffer[] = []
    for (const ev of d.push(chunk)) {
      if (ev.kind !== 'command') continue
      if (ev.verb === 'MSG') out.push(Buffer.from(`ACK ${ev.trId}\r\n`))
      else if (ev.verb === 'PNG') out.push(Buffer.from('QNG 50\r\n'))
      else out.push(encodeCommand({ verb: ev.verb, trId: ev.trId, args: ev.args }))
    }
    if (out.length > 0) socket.write(Buffer.concat(out))
  })
  socket.on('error', () => socket.destroy())
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`)
})
process.on('disconnect', () => process.exit(0))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
