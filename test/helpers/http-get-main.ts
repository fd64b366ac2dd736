/**
 * One plain HTTP request in its own process (for tests that run it in a network namespace):
 * `http-get-main.ts URL [BODY]` (a POST when BODY is given; `--upgrade` instead of BODY: an
 * upgrade request that sends `ping` once upgraded). Prints `{status, headers, body}` (body
 * base64: the answer's, or every byte after the 101) or `{error}` as one JSON line.
 */
import http from 'node:http'

const [url, body] = process.argv.slice(2)
const upgrade = body === '--upgrade'
const print = (v: unknown): void => { process.stdout.write(JSON.stringify(v) + '\n') }
const req = http.request(url!, {
  method: body === undefined || upgrade ? 'GET' : 'POST', agent: false,
  ...(upgrade ? { headers: { Connection: 'Upgrade', Upgrade: 'lab-echo' } } : {}),
})
req.on('response', (res) => {
  const chunks: Buffer[] = []
  res.on('data', (c: Buffer) => chunks.push(c))
  res.on('end', () => print({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('base64') }))
})
req.on('upgrade', (res, socket, head) => {
  const chunks: Buffer[] = head.length > 0 ? [head] : []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('end', () => print({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('base64') }))
  socket.write('ping')
})
req.on('error', (err) => print({ error: String(err) }))
req.end(upgrade ? undefined : body)
