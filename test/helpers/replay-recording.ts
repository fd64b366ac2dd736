/** Recordings for replay tests: a lab session through the live proxy, saved as JSON lines. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { startLabServer, type LabServer } from '../../src/lab/server.js'
import { DEFAULT_LAB_USERS } from '../../src/lab/directory.js'
import { LabClient } from '../../src/lab/client.js'
import { TcpProxy } from '../../src/transport/tcp-proxy.js'
import { jsonlFileSink } from '../../src/sinks/jsonl-file.js'
import { Redactor } from '../../src/sinks/redact.js'
import type { ScopeEvent } from '../../src/events.js'

export const HOST = '127.0.0.3'
export type T = { after: (fn: () => Promise<void> | void) => void }

export interface LabOptions { challenge?: 'after-chg' | 'manual'; password?: string }

/** A lab server with alice, bob and carol (all with `password` when given, for MD5 logins). */
export async function lab(t: T, options: LabOptions = {}): Promise<LabServer> {
  const users = options.password === undefined ? DEFAULT_LAB_USERS : DEFAULT_LAB_USERS.map((u) => ({ ...u, password: options.password! }))
  const server = await startLabServer({ host: HOST, users, ...(options.challenge !== undefined ? { challenge: options.challenge } : {}) })
  t.after(() => server.close())
  return server
}

/** Resolves once every socket the server accepted has closed. */
export async function allClosed(server: LabServer): Promise<void> {
  while (server.peers.some((p) => p.closedAt === undefined)) await once(server, 'connection-closed')
}

export const TEXTS = { hello: 'hello from the recording', reply: 'and a reply' } as const

/**
 * Alice and Bob sign in through the proxy (Alice first), Alice opens a switchboard with Bob,
 * they exchange one text each, both sign out. Returns the saved JSONL file (secrets redacted,
 * as `--save` writes it) and the events as emitted.
 */
export async function recordLabSession(t: T, dialect: number, password?: string): Promise<{ file: string; events: ScopeEvent[] }> {
  const server = await lab(t, password !== undefined ? { password } : {})
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-replay-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'session.jsonl')
  const proxy = new TcpProxy({ listen: { host: HOST, port: 0 }, upstream: { host: HOST, port: server.ds.port } })
  const events: ScopeEvent[] = []
  proxy.addSink((e) => { events.push(e) })
  const saved = jsonlFileSink(file, new Redactor())
  proxy.addSink(saved.sink)
  const addr = await proxy.start()
  t.after(() => proxy.close())
  const opts = { dialect, host: addr.host, port: addr.port, ...(password !== undefined ? { password } : {}) }
  const alice = new LabClient({ ...opts, account: 'alice@example.com', contacts: ['bob@example.net'] })
  const bob = new LabClient({ ...opts, account: 'bob@example.net', contacts: ['alice@example.com'] })
  t.after(() => { alice.close(); bob.close() })
  await alice.login()
  await alice.setPresence()
  await alice.waitFor('challenge')
  await bob.login()
  await bob.setPresence()
  await bob.waitFor('challenge')
  await alice.waitFor('presence', (p) => p.account === 'bob@example.net')
  const chat = await alice.openChat('bob@example.net')
  const bobChat = await bob.waitFor('chat')
  await chat.sendText(TEXTS.hello)
  await bobChat.waitFor('text', (m) => m.text === TEXTS.hello)
  await bobChat.sendText(TEXTS.reply)
  await chat.waitFor('text', (m) => m.text === TEXTS.reply)
  await alice.logout()
  await bob.waitFor('offline', (o) => o.account === 'alice@example.com')
  await bob.logout()
  await allClosed(server)
  while (proxy.connections > 0) await new Promise((resolve) => setImmediate(resolve))
  saved.close()
  return { file, events }
}
