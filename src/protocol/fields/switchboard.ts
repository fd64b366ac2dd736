/**
 * Switchboard commands (CAL ANS IRO JOI BYE ACK NAK, and MSG in both its client and server
 * forms) plus the NS notifications and invitations around them: RNG, NOT, IPG, PAG, PGD and the
 * old directory commands FND, SND, SDC, IMS (commands.md sections 6-8).
 */
import { addCapabilities } from '../capabilities.js'
import type { CommandEvent, Fields } from '../events.js'
import { accountKeys, addAccount, addAccountAs, addName, NETWORKS, splitAccount, toInt, urlDecode, type FieldDecoder } from './common.js'
import { addReferralTail, addSwitchboardReferral } from './session.js'

/** MSG acknowledgement modes (client form). */
export const ACK_MODES: ReadonlyMap<string, string> = new Map([
  ['U', 'no acknowledgement'],
  ['N', 'NAK only if delivery fails'],
  ['A', 'ACK or NAK'],
  ['S', 'ACK only if delivered'],
  ['D', 'P2P data: ACK or NAK'],
])

// C: MSG 4 A <len>   S: MSG alice@example.com Alice%20A. <len> | MSG Hotmail Hotmail <len>
function msg(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'client') {
    const ack = a[0]
    if (ack === undefined) return f
    f.ack = ack
    const m = ACK_MODES.get(ack)
    if (m !== undefined) f.ackMeaning = m
    return f
  }
  const sender = a[0]
  if (sender !== undefined) {
    // the most frequent server line of all: split without the generic helper's keyed stores
    const p = splitAccount(sender)
    f.sender = p.account
    if (p.endpointGuid !== undefined) f.senderEndpointGuid = p.endpointGuid
    if (p.networkId >= 0) {
      f.senderNetworkId = p.networkId
      const name = NETWORKS.get(p.networkId)
      if (name !== undefined) f.senderNetworkName = name
    }
  }
  addName(f, a[1], 'senderName')
  return f
}

const CALLER = accountKeys('caller')

// S: RNG 11752099 192.0.2.77:1863 CKI <cookie> alice@example.com Alice%20A. [U <domain>] [1]
function rng(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (a[0] !== undefined) f.sessionId = a[0]
  addSwitchboardReferral(f, a, 1)
  addAccountAs(f, a[4], CALLER)
  addName(f, a[5], 'callerName')
  addReferralTail(f, a, 6)
  return f
}

// C: CAL 2 bob@example.net   S: CAL 2 RINGING 11752099
function cal(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'server') {
    if (a[0] !== undefined) f.state = a[0]
    if (a[1] !== undefined) f.sessionId = a[1]
  } else addAccount(f, a[0])
  return f
}

// C: ANS 1 bob@example.net[;{guid}] <cookie> 11752099   S: ANS 1 OK
function ans(cmd: CommandEvent): Fields {
  const a = cmd.args
  if (a[0] === 'OK') return { ok: true }
  const f: Fields = {}
  addAccount(f, a[0])
  if (a[1] !== undefined) f.cookie = a[1]
  if (a[2] !== undefined) f.sessionId = a[2]
  return f
}

// S: IRO 1 1 2 alice@example.com Alice%20A. [<caps>]
function iro(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  const index = toInt(a[0])
  if (index !== undefined) f.index = index
  const total = toInt(a[1])
  if (total !== undefined) f.total = total
  addAccount(f, a[2])
  addName(f, a[3])
  addCapabilities(f, a[4])
  return f
}

// S: JOI bob@example.net[;{guid}] Bob [<caps>]
function joi(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  addName(f, a[1])
  addCapabilities(f, a[2])
  return f
}

// S: BYE bob@example.net [1]  (a trailing 1 is reported for idle time-outs; unconfirmed)
function bye(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  if (a[1] === '1') f.timedOut = true
  return f
}

const PGD_DEVICES: ReadonlyMap<number, string> = new Map([[1, 'MSN Mobile'], [2, 'MSN Direct']])

// C: PGD 35 bob@example.net 1 <len>
function pgd(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addAccount(f, a[0])
  const t = toInt(a[1])
  if (t !== undefined) {
    f.deviceType = t
    const name = PGD_DEVICES.get(t)
    if (name !== undefined) f.deviceName = name
  }
  return f
}

/** `fname=Bob lname=* …` tokens from `i` into an object (values URL-decoded). */
function criteria(a: readonly string[], i: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (; i < a.length; i++) {
    const t = a[i]!
    const eq = t.indexOf('=')
    if (eq > 0) out[t.slice(0, eq)] = urlDecode(t.slice(eq + 1))
  }
  return out
}

// C: FND 40 fname=Bob lname=* city=* state=* country=US   S: FND 40 1 3 fname=Bob … | FND 40 0 0
function fnd(cmd: CommandEvent): Fields {
  const a = cmd.args
  if (cmd.from === 'client') return { criteria: criteria(a, 0) }
  const f: Fields = {}
  const index = toInt(a[0])
  if (index !== undefined) f.index = index
  const total = toInt(a[1])
  if (total !== undefined) f.total = total
  if (a.length > 2) f.result = criteria(a, 2)
  return f
}

// SND 41 dave@example.org [<locale> <client-codebase>] (both directions)
function snd(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (a[0] !== undefined) f.email = a[0]
  if (a[1] !== undefined) f.locale = a[1]
  if (a[2] !== undefined) f.codebase = a[2]
  return f
}

const none = (): Fields => ({})

export const SWITCHBOARD_FIELDS: ReadonlyArray<readonly [string, FieldDecoder]> = [
  ['MSG', msg], ['RNG', rng], ['CAL', cal], ['ANS', ans], ['IRO', iro], ['JOI', joi], ['BYE', bye],
  ['ACK', () => ({ delivered: true })], ['NAK', () => ({ delivered: false })],
  ['NOT', none], ['IPG', none], ['PAG', none], ['PGD', pgd], ['FND', fnd], ['SND', snd], ['SDC', none], ['IMS', none],
]
