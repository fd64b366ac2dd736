/**
 * The lab's scripted session, used by `msnscope demo` (in a loop, with a pause between steps)
 * and by integration tests (through the proxy, or straight at the lab server, without pauses).
 *
 * Alice, Bob and Carol sign in through `serverHost:port`, set their presence and personal
 * messages, then Alice chats with Bob (typing, text both ways, nudge, a file invitation Bob
 * declines, a P2P display-picture request) and Bob opens a second switchboard with Carol (text,
 * a file invitation Carol accepts). Everyone leaves and signs out. Every wait is on an event,
 * never on a timer; the optional pauses only slow the script down for people watching.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Chat } from './chat.js'
import type { LabTransport } from './channel.js'
import { LabClient } from './client.js'
import { LabReplyError } from './wire.js'

export interface LabScenarioOptions {
  /** where the clients connect first (the lab's dispatch server, or a proxy in front of it) */
  serverHost: string
  port: number
  /** MSNP version for all three clients (2-18) */
  dialect: number
  log?: (line: string) => void
  /** pause between steps, for the demo; 0 (default) for tests */
  delayMs?: number
  /** the three accounts (default alice@example.com, bob@example.net, carol@example.org) */
  accounts?: readonly [string, string, string]
  /** how the clients reach the servers (default TCP; gatewayTransport for the HTTP gateway) */
  transport?: LabTransport
}

export interface LabClientSummary {
  account: string
  sent: number
  received: number
  sentByVerb: Record<string, number>
  receivedByVerb: Record<string, number>
  /** what arrived in this client's conversations */
  texts: string[]
  typing: string[]
  nudges: number
  invitations: string[]
  invitationReplies: string[]
  p2p: string[]
}

export interface LabScenarioSummary {
  dialect: number
  durationMs: number
  switchboards: number
  clients: LabClientSummary[]
}

export const SCENARIO_TEXTS = {
  hello: 'Hi Bob — lunch at nöön?',
  reply: 'sure :)',
  second: 'Carol, are you coming too?',
  secondReply: 'On my way!',
} as const

export const SCENARIO_FILES = { declined: 'holiday.jpg', accepted: 'minutes.doc' } as const

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

function summarise(client: LabClient, chats: readonly Chat[]): LabClientSummary {
  const all = <T>(f: (c: Chat) => T[]): T[] => chats.flatMap(f)
  return {
    account: client.account,
    sent: client.stats.sent,
    received: client.stats.received,
    sentByVerb: { ...client.stats.sentByVerb },
    receivedByVerb: { ...client.stats.receivedByVerb },
    texts: all((c) => c.seen('text').map((t) => t.text)),
    typing: all((c) => c.seen('typing').map((t) => t.user)),
    nudges: all((c) => c.seen('nudge')).length,
    invitations: all((c) => c.seen('invite').map((i) => i.fileName)),
    invitationReplies: all((c) => c.seen('invite-reply').map((r) => r.command)),
    p2p: all((c) => c.seen('p2p').map((p) => p.slp ?? `${p.body.length} bytes`)),
  }
}

/** Run the scenario once; resolves with what each client sent and received. */
export async function runLabScenario(options: LabScenarioOptions): Promise<LabScenarioSummary> {
  const started = Date.now()
  const d = options.dialect
  const delay = options.delayMs ?? 0
  const pause = (): Promise<unknown> => delay > 0 ? sleep(delay) : Promise.resolve()
  const say = (line: string): void => options.log?.(`scenario: ${line}`)
  const [aliceId, bobId, carolId] = options.accounts ?? ['alice@example.com', 'bob@example.net', 'carol@example.org']
  const ids = [aliceId, bobId, carolId]
  const names = ['Alice', 'Bob', 'Carol']
  const [alice, bob, carol] = ids.map((account, i) => new LabClient({
    account, dialect: d, host: options.serverHost, port: options.port, name: names[i]!,
    contacts: ids.filter((o) => o !== account), ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.transport === undefined ? {} : { transport: options.transport }),
  })) as [LabClient, LabClient, LabClient]
  const chatsOf = new Map<LabClient, Chat[]>([[alice, []], [bob, []], [carol, []]])
  const keep = (c: LabClient, chat: Chat): Chat => { chatsOf.get(c)!.push(chat); return chat }

  try {
    say(`signing in with MSNP${d}`)
    for (const c of [alice, bob, carol]) {
      await c.login()
      await pause()
    }
    for (const c of [alice, bob, carol]) await c.setPresence('NLN')
    await alice.waitFor('presence', (p) => same(p.account, bobId) && p.status === 'NLN')
    await pause()
    if (d >= 11) {
      say('personal messages')
      await alice.setPersonalMessage('Testing msnscope')
      await bob.setPersonalMessage('At lunch')
      await alice.waitFor('psm', (p) => same(p.account, bobId))
      await pause()
    }
    await bob.setPresence('BSY')
    await alice.waitFor('presence', (p) => same(p.account, bobId) && p.status === 'BSY')
    await alice.ping()
    await pause()

    say('Alice opens a switchboard with Bob')
    const aliceChat = keep(alice, await alice.openChat(bobId))
    const bobChat = keep(bob, await bob.waitFor('chat'))
    await pause()
    aliceChat.sendTyping()
    await bobChat.waitFor('typing')
    await aliceChat.sendText(SCENARIO_TEXTS.hello)
    await bobChat.waitFor('text', (t) => t.text === SCENARIO_TEXTS.hello)
    await pause()
    await bobChat.sendText(SCENARIO_TEXTS.reply)
    await aliceChat.waitFor('text', (t) => t.text === SCENARIO_TEXTS.reply)
    aliceChat.sendNudge()
    await bobChat.waitFor('nudge')
    await pause()

    say('file invitation, declined')
    const declined = await aliceChat.sendFileInvite(SCENARIO_FILES.declined, 48213)
    const invite = await bobChat.waitFor('invite', (i) => i.cookie === declined)
    await invite.decline()
    const refusal = await aliceChat.inviteReply(declined)
    if (refusal.command !== 'CANCEL') throw new LabReplyError(null, 'MSG', `expected CANCEL, got ${refusal.command}`)
    await pause()

    if (d >= 9) {
      say('P2P display-picture request')
      await aliceChat.sendP2P()
      await bobChat.waitFor('p2p')
      await pause()
    }

    say('Bob opens a second switchboard with Carol')
    const bobChat2 = keep(bob, await bob.openChat(carolId))
    const carolChat = keep(carol, await carol.waitFor('chat'))
    await bobChat2.sendText(SCENARIO_TEXTS.second)
    await carolChat.waitFor('text', (t) => t.text === SCENARIO_TEXTS.second)
    await carolChat.sendText(SCENARIO_TEXTS.secondReply)
    await bobChat2.waitFor('text', (t) => t.text === SCENARIO_TEXTS.secondReply)
    await pause()

    say('file invitation, accepted')
    const accepted = await bobChat2.sendFileInvite(SCENARIO_FILES.accepted, 10240)
    const offer = await carolChat.waitFor('invite', (i) => i.cookie === accepted)
    await offer.accept()
    const yes = await bobChat2.inviteReply(accepted)
    if (yes.command !== 'ACCEPT') throw new LabReplyError(null, 'MSG', `expected ACCEPT, got ${yes.command}`)
    await carolChat.waitFor('invite-reply', (r) => r.cookie === accepted && r.fields.has('ip-address'))
    await pause()

    say('leaving and signing out')
    await aliceChat.leave()
    await bobChat.waitFor('left', (l) => same(l.account, aliceId))
    await carolChat.leave()
    await bobChat2.waitFor('left', (l) => same(l.account, carolId))
    for (const c of [alice, bob, carol]) await c.logout()
  } finally {
    for (const c of [alice, bob, carol]) c.close()
  }
  return {
    dialect: d,
    durationMs: Date.now() - started,
    switchboards: 2,
    clients: [alice, bob, carol].map((c) => summarise(c, chatsOf.get(c)!)),
  }
}
