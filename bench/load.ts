/**
 * The load generator of the proxy benchmark, in its own process: `connections` closed-loop
 * clients, each sending one command and waiting for its reply before the next, for `seconds`.
 * The mix: short commands (PNG, CHG, CAL) and MSGs of 100–1,500 bytes. Prints JSON figures.
 */
import net from 'node:net'
import { MsnpDecoder } from '../src/protocol/decoder.js'
import { encodeCommand } from '../src/protocol/encoder.js'
import { Rng } from './traffic.js'

const [portText, connText, secondsText] = process.argv.slice(2)
const port = Number(portText)
const connections = Number(connText)
const seconds = Number(secondsText)

function request(r: Rng, trId: number): Buffer {
  const k = r.int(10)
  if (k < 5) {
    const size = 100 + r.int(1401)
    const head = 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\n'
    const body = 'x'.repeat(Math.max(1, size - head.length))
    return encodeCommand({ verb: 'MSG', trId, args: ['A'], payloadRaw: Buffer.from(head + body) })
  }
  if (k < 7) return encodeCommand({ verb: 'PNG', trId: null, args: [] })
  if (k < 9) return encodeCommand({ verb: 'CHG', trId, args: ['NLN', '1342177280', '0'] })
  return encodeCommand({ verb: 'CAL', trId, args: ['bob@example.net'] })
}

async function client(id: number, deadline: number, lat: number[]): Promise<{ rt: number; bytes: number }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const d = new MsnpDecoder('server', { decode: false })
  const r = new Rng(id + 1)
  let rt = 0
  let bytes = 0
  let trId = 1
  let waiting: (() => void) | null = null
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    if (d.push(chunk).length > 0 && waiting !== null) { const w = waiting; waiting = null; w() }
  })
  while (performance.now() < deadline) {
    const req = request(r, trId++)
    const t0 = performance.now()
    const replied = new Promise<void>((resolve) => { waiting = resolve })
    socket.write(req)
    bytes += req.length
    await replied
    lat.push(performance.now() - t0)
    rt++
  }
  socket.destroy()
  return { rt, bytes }
}

const lat: number[] = []
const t0 = performance.now()
const deadline = t0 + seconds * 1000
const results = await Promise.all(Array.from({ length: connections }, (_, i) => client(i, deadline, lat)))
const elapsed = (performance.now() - t0) / 1000
lat.sort((a, b) => a - b)
const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN
const rt = results.reduce((n, x) => n + x.rt, 0)
const bytes = results.reduce((n, x) => n + x.bytes, 0)
process.stdout.write(JSON.stringify({ roundTrips: rt, rtPerSec: rt / elapsed, mbPerSec: bytes / elapsed / 1048576, p50ms: q(0.5), p99ms: q(0.99) }) + '\n')
