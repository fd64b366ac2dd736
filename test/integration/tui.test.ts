/**
 * The dashboard as a user meets it: the real CLI (`msnscope read`, `msnscope demo`) in a
 * pseudo-terminal (tmux), driven with keys and read back from the screen.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hasTmux, shellQuote, Terminal } from '../helpers/tmux.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// the loader by absolute URL, so the CLI can run from any directory
const CLI = `node --import ${shellQuote(import.meta.resolve('tsx'))} ${shellQuote(join(ROOT, 'src/cli/main.ts'))}`
const CAPTURE = '/work/shared/captures/ppa-msnms.pcap'
const GENERATOR = '/work/shared/tools/gen_msnp_pcap.py'
const skip = !hasTmux() ? 'tmux is not installed' : false

test('read: open a capture, filter with an inline error, select, read the detail pane, search, quit', { skip: skip || (!existsSync(CAPTURE) && 'no sample capture') }, async (t) => {
  const term = new Terminal()
  t.after(() => term.close())
  term.start(`${CLI} read ${shellQuote(CAPTURE)}`, { width: 140, height: 40, cwd: ROOT })

  let screen = await term.waitFor((s) => /end of input/.test(s) && /27 events/.test(s), 'the capture to be read')
  assert.match(screen, /msnscope · read .*ppa-msnms\.pcap/)
  assert.match(screen, /tesla_brian@hotmail\.com/, 'the account heads the connection tree')
  assert.match(screen, /c1 SB closed: end of capture/)
  assert.match(screen, /SB → MSG 106 N {2}"sounds good to me"/, 'the newest event is shown, followed')
  assert.match(screen, /Chat c1 tesla_brian@hotmail/)
  assert.match(screen, /│\d\d:\d\d:\d\d tesla_brian@hotmail\.com: +│.*\n│ {2}sounds good to me +│/, 'the chat pane ends with the last message, wrapped under its sender')

  // an invalid filter is explained while typing: caret under the error, what was expected
  term.keys('f')
  term.type('~verb MSG & ~frm')
  screen = await term.waitFor(/did you mean ~from\?/, 'the inline filter error')
  const errLine = screen.split('\n').find((l) => l.includes('✗ unknown filter ~frm'))!
  assert.equal(errLine.indexOf('^'), 'filter: '.length + '~verb MSG & '.length, 'the caret points at ~frm')
  term.keys('BSpace', 'BSpace', 'BSpace', 'BSpace')
  term.type('~from server & hacking')
  await term.waitFor(/✓ valid filter/, 'the filter to become valid')
  term.keys('Enter')
  screen = await term.waitFor(/filter ~verb MSG & ~from server & hacking \(1 shown\)/, 'the filter to apply')
  assert.match(screen, /Events 1\/1/)
  assert.match(screen, /Detail #23/)
  assert.match(screen, /line +MSG tesla_thomas@hotmail\.com Thomas 182/)
  assert.match(screen, /X-MMS-IM-Format: FN=MS%20Shell%20Dlg/)

  // Enter: the detail pane alone, with the message body and the hex dump of the raw bytes
  term.keys('Enter')
  screen = await term.waitFor(/Raw \(223 bytes\)/, 'the zoomed detail pane')
  assert.doesNotMatch(screen, /Connections/)
  assert.match(screen, /^│ {2}maybe we should try hacking into a server to mess with him\? +│$/m)
  assert.match(screen, /000000 {2}4d 53 47 20 74 65 73 6c {2}61 5f 74 68 6f 6d 61 73 {2}MSG tesla_thomas/)
  term.keys('Escape')
  await term.waitFor(/Connections/, 'the panes to come back')

  // clear the filter, then search for a message and land on it
  term.keys('f', 'C-u', 'Enter')
  await term.waitFor((s) => /Events 27\/27/.test(s) && !/filter ~/.test(s), 'every event again')
  term.keys('/')
  term.type('"new IT guy"')
  term.keys('Enter')
  screen = await term.waitFor(/line +MSG 99 N \d+/, 'the search to select the message')
  assert.match(screen, /"new IT guy": #\d+/)
  assert.doesNotMatch(screen, /FOLLOW/, 'selecting stops following')

  // help, then quit: a capture that was read to the end quits without asking
  term.keys('?')
  await term.waitFor(/Filters {2}\(as in mitmproxy/, 'the help screen')
  term.keys('q')
  await term.waitFor((s) => !/Filters {2}\(as in mitmproxy/.test(s), 'the help screen to close')
  term.keys('q')
  assert.equal(await term.waitForExit(), 0)
})

test('read: gateway sessions in the tree, the P2P header table, and saving the shown events', { skip: skip || (!existsSync(GENERATOR) && 'no capture generator') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'msnscope-tui-test-'))
  const term = new Terminal()
  t.after(() => { term.close(); rmSync(dir, { recursive: true, force: true }) })
  const pcap = join(dir, 'p2p.pcap')
  const gen = spawnSync('python3', [GENERATOR, '--sessions', '3', '--p2p-rate', '0.8', '--file-rate', '0.8', '--out', pcap, '--quiet'])
  assert.equal(gen.status, 0, String(gen.stderr))
  term.start(`${CLI} read ${shellQuote(pcap)}`, { width: 160, height: 45, cwd: dir })

  let screen = await term.waitFor(/end of input/, 'the capture to be read')
  assert.match(screen, /c2 NS MSNP8 \[gw\]/, 'gateway sessions are marked')
  assert.match(screen, /└ c4 NS MSNP9 \[gw\]/, 'the notification session hangs under its dispatch connection')

  term.keys('f')
  term.type('~p2p & ~from client & INVITE')
  term.keys('Enter')
  screen = await term.waitFor(/filter ~p2p & ~from client & INVITE \(\d+ shown\)/, 'the P2P filter')
  const shown = Number(/\((\d+) shown\)/.exec(screen)![1])
  assert.ok(shown >= 1)
  term.keys('g')
  await term.waitFor((s) => !/FOLLOW/.test(s), 'the first match to be selected')
  term.keys('Enter')
  screen = await term.waitFor((s) => !/Connections/.test(s) && /AckDataSize/.test(s), 'the zoomed detail pane with the P2P header table')
  assert.match(screen, /P2P binary header \(v1, 48 bytes, little-endian\)/)
  assert.match(screen, /0 +SessionID +0 +0x00000000/)
  assert.match(screen, /28 +Flags +normal +0x00000000/)
  assert.match(screen, /MSNSLP/)
  assert.match(screen, /INVITE MSNMSGR:/)
  term.keys('Escape')
  await term.waitFor(/Connections/, 'the panes to come back')

  // save what the filter shows: JSON lines with the raw bytes
  term.keys('w')
  await term.waitFor(/save shown events to: msnscope-/, 'the save prompt')
  term.keys('C-u')
  term.type('invites.jsonl')
  term.keys('Enter')
  await term.waitFor(new RegExp(`saved ${shown} events to invites\\.jsonl`), 'the save to finish')
  const lines = readFileSync(join(dir, 'invites.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { verb: string; from: string; raw: string; payload: { contentType: string } })
  assert.equal(lines.length, shown)
  for (const l of lines) {
    assert.equal(l.verb, 'MSG')
    assert.equal(l.from, 'client')
    assert.match(Buffer.from(l.raw, 'base64').toString('latin1'), /^MSG \d+ D \d+\r\nMIME-Version: 1\.0\r\nContent-Type: application\/x-msnmsgrp2p/)
  }
  term.keys('Q')
  assert.equal(await term.waitForExit(), 0)
})

test('demo: live events appear in the dashboard, a filter applies to the running traffic, Q quits', { skip }, async (t) => {
  if (!existsSync(join(ROOT, 'src/cli/demo.ts'))) { t.skip('msnscope demo is not there yet'); return }
  const term = new Terminal()
  t.after(() => term.close())
  term.start(`${CLI} demo --delay 50`, { width: 150, height: 42, cwd: ROOT })
  const count = (s: string): number => Number(/([\d,]+) events · /.exec(s)?.[1]?.replace(/,/g, '') ?? '0')
  let screen = await term.waitFor((s) => count(s) > 0 && /alice@example\.com/.test(s), 'the first live events', 60_000)
  const first = count(screen)
  screen = await term.waitFor((s) => count(s) > first && /FOLLOW/.test(s), 'more events to arrive', 60_000)
  term.keys('f')
  term.type('~verb MSG & ~ct text/plain')
  term.keys('Enter')
  screen = await term.waitFor((s) => /filter ~verb MSG & ~ct text\/plain \([1-9][\d,]* shown\)/.test(s) && /MSG .*"/.test(s), 'chat messages under the filter', 60_000)
  const rows = screen.split('\n').filter((l) => / (SB|NS) +[→←] /.test(l))
  assert.ok(rows.length > 0)
  for (const r of rows) assert.match(r, / [→←] MSG /, 'only messages are listed')
  term.keys('Q')
  assert.equal(await term.waitForExit(), 0)
})
