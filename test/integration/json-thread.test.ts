/**
 * `read --json` renders its lines in a thread of their own, decoding each command again from its
 * raw bytes there. The text must be exactly what toJsonLine writes for the events of an ordinary
 * import: on every transcript of the reference (commands of every kind, split across segments),
 * on untidy lines, on the project's and the shared captures, with and without --raw, and through
 * the CLI itself.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { test } from 'node:test'
import { main } from '../../src/cli/main.js'
import type { CliIo } from '../../src/cli/io.js'
import { toJsonLine } from '../../src/sinks/json.js'
import { JsonLineThread } from '../../src/sinks/json-thread.js'
import { importCapture } from '../../src/transport/pcap-import.js'
import { repoRoot, sharedDir, tempDir } from '../helpers/capture-truth.js'
import { conversation, frames, pcapFile, type Rec } from '../helpers/pcap-build.js'
import { itemBytes, VECTORS } from '../helpers/vectors.js'

/** Every transcript of test-vectors.md as a TCP connection of its own, cut into 13-byte segments. */
function vectorCapture(): Buffer {
  const recs: Rec[] = []
  let port = 4000
  let startUs = 1e15
  for (const [tv, v] of Object.entries(VECTORS)) {
    if (!Array.isArray(v)) continue
    const byServer = new Map<string, Array<[boolean, Buffer]>>()
    for (const it of v) {
      const list = byServer.get(it.srv ?? '?') ?? []
      list.push([it.dir === 'C', itemBytes(it)])
      byServer.set(it.srv ?? '?', list)
    }
    for (const writes of byServer.values()) {
      recs.push(...frames(conversation(writes, { mss: 13, startUs }), { ip: '192.0.2.10', port: port++ }, { ip: '203.0.113.5', port: 1863 }))
      startUs += 1e6
    }
    assert.ok(tv.length > 0)
  }
  // untidy lines: lower-case and unknown verbs, bare LF, latin1, odd spacing, a NAK'd payload
  const untidy: Array<[boolean, string | Buffer]> = [
    [true, 'VER 1 MSNP12 CVR0\r\n'], [false, 'VER 1 MSNP12\r\n'],
    [true, 'usr 2 TWN I alice@example.com\n'], [false, 'ZZZ 7 something new\r\n'],
    [false, Buffer.concat([Buffer.from('NLN NLN b\xe9b@example.com B\xe9b 0\r\n', 'latin1')])],
    [true, 'CHG  3   NLN 0\r\n'], [true, 'UUX 4 0\r\n'],
    [false, 'MSG Hotmail Hotmail 20\r\nMIME-Version: 1.0\r\n\r\n'],
    // read by dialect: no list version after the list from MSNP10 on
    [false, 'REM 5 FL 14 bob@example.net\r\n'],
  ]
  recs.push(...frames(conversation(untidy, { mss: 5, startUs }), { ip: '192.0.2.11', port: 5000 }, { ip: '203.0.113.6', port: 1863 }))
  // MSNP15's NLN carries a network id before the name
  const msnp15: Array<[boolean, string]> = [[true, 'VER 1 MSNP15 CVR0\r\n'], [false, 'VER 1 MSNP15\r\n'], [false, 'NLN NLN bob@example.com 1 Bob 0\r\n']]
  recs.push(...frames(conversation(msnp15, { startUs: startUs + 1 }), { ip: '192.0.2.12', port: 5001 }, { ip: '203.0.113.7', port: 1863 }))
  return pcapFile(recs.sort((a, b) => a.tsUs - b.tsUs))
}

async function reference(file: string, raw: boolean): Promise<string> {
  const lines: string[] = []
  await importCapture(file, (e) => { lines.push(toJsonLine(e, { raw }) + '\n') })
  return lines.join('')
}

async function threaded(file: string, raw: boolean, maxHeads?: number): Promise<string> {
  const out = new PassThrough()
  const parts: Buffer[] = []
  out.on('data', (b: Buffer) => parts.push(b))
  const lines = new JsonLineThread(out, { raw, limits: {} }, maxHeads)
  await importCapture(file, (e) => lines.add(e), { decode: false, drain: () => lines.drain() })
  await lines.finish()
  return Buffer.concat(parts).toString('utf8')
}

test('lines rendered by the JSON thread are exactly those of toJsonLine, raw or not', async () => {
  const { dir, remove } = tempDir()
  try {
    const vectors = path.join(dir, 'vectors.pcap')
    writeFileSync(vectors, vectorCapture())
    const files = [vectors]
    for (const d of [path.join(repoRoot, 'captures'), path.join(sharedDir, 'captures')]) {
      if (existsSync(d)) for (const f of readdirSync(d)) if (/\.(pcap|pcapng)$/.test(f)) files.push(path.join(d, f))
    }
    let commands = 0
    for (const file of files) {
      for (const raw of [false, true]) {
        const want = await reference(file, raw)
        assert.equal(await threaded(file, raw), want, `${file}${raw ? ' --raw' : ''}`)
        commands += want.split('\n').filter((l) => l.includes('"kind":"command"')).length
      }
    }
    // the vector capture alone holds well over a hundred commands
    assert.ok(commands > 400, `${commands} command lines compared`)
    // heads kept for only two connections: the threads forget them and send them again, often
    assert.equal(await threaded(vectors, false, 2), await reference(vectors, false))
    const vectorLines = await reference(vectors, false)
    assert.match(vectorLines, /"verb":"NLN","trId":null,"args":\["NLN","bob@example.com","1","Bob","0"\],"payloadLength":null,"fields":\{[^}]*"networkId":1[^}]*"displayName":"Bob"/)
    assert.match(vectorLines, /"verb":"REM","trId":5,"args":\["FL","14","bob@example.net"\],"payloadLength":null,"fields":\{"list":"FL"[^}]*"account":"14"/)
    // and the CLI's read --json, which renders through the thread
    const stdout = new PassThrough()
    let text = ''
    stdout.on('data', (c: Buffer) => { text += c.toString() })
    const io: CliIo = { stdout, stderr: new PassThrough(), stdin: Readable.from([]), env: { NO_COLOR: '1' }, stopSignal: new AbortController().signal }
    assert.equal(await main(['read', '--json', vectors], io), 0)
    assert.equal(text, await reference(vectors, false))
  } finally {
    remove()
  }
})

test('read --json into a reader that goes away (| head -1) ends at once, with status 0', { timeout: 120_000 }, async (t) => {
  const { dir, remove } = tempDir()
  try {
    // enough connections for several batches of lines
    const recs: Rec[] = []
    for (let i = 0; i < 1500; i++) {
      const chat: Array<[boolean, string]> = [
        [true, 'CAL 1 bob@example.com\r\n'], [false, 'CAL 1 RINGING 1234\r\n'],
        [true, `MSG 2 N ${78 + String(i).length}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nmessage number ${i}`],
      ]
      recs.push(...frames(conversation(chat, { startUs: 1e15 + i * 1000 }), { ip: '192.0.2.10', port: 1024 + i }, { ip: '203.0.113.5', port: 1863 }))
    }
    const file = path.join(dir, 'many.pcap')
    writeFileSync(file, pcapFile(recs.sort((a, b) => a.tsUs - b.tsUs)))
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts'), 'read', '--json', file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    let err = ''
    child.stderr.on('data', (c: Buffer) => { err += c.toString() })
    const first = await new Promise<string>((resolve) => {
      let text = ''
      const take = (c: Buffer): void => {
        text += c.toString()
        const nl = text.indexOf('\n')
        if (nl < 0) return
        child.stdout.off('data', take)
        // the reader leaves after one line, as head -1 does
        child.stdout.destroy()
        resolve(text.slice(0, nl))
      }
      child.stdout.on('data', take)
    })
    assert.match(first, /^\{"seq":1,/)
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    assert.equal(code, 0, err)
  } finally {
    remove()
  }
})

test('the built CLI starts its threads when node runs with process-wide V8 options', async (t) => {
  const cli = path.join(repoRoot, 'dist', 'cli', 'main.js')
  if (!existsSync(cli)) { t.skip('dist/ is not built (npm run build)'); return }
  // heap sizes apply to the whole process: a worker refuses them in its own option list
  const file = path.join(repoRoot, 'captures', 'msnp-tcp.pcap')
  const expected = await reference(file, false)
  const child = spawn(process.execPath, ['--max-semi-space-size=32', '--max-old-space-size=512', cli, 'read', '--json', file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  assert.equal(code, 0, err)
  assert.equal(out, expected)
})
