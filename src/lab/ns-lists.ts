/**
 * Contact-list and settings commands of the lab's notification server: the classic SYN with
 * its GTC/BLP/PRP/LSG/LST/BPR follow-ups (MSNP2-12, three layouts), GTC, BLP, PRP, REA, ADD,
 * ADC, REM, and the XML-based ADL/RML of MSNP13+.
 */
import type { CommandEvent } from '../protocol/events.js'
import { LIST_BITS, accountKey, guidFor, type ListName, type UserRecord } from './directory.js'
import { decodeWireText, encodeWireText } from './messages.js'
import type { NsSession } from './ns.js'

const CLASSIC_LISTS: ListName[] = ['FL', 'AL', 'BL', 'RL']
const TIMESTAMP = '2005-06-08T18:22:41.5230000-07:00'

/** Handles the command when it is a list command of this dialect; false otherwise. */
export function handleListCommand(s: NsSession, cmd: CommandEvent, trId: number): boolean {
  const d = s.dialect
  const classic = d <= 12
  switch (cmd.verb) {
    case 'SYN': if (!classic) return false; syn(s, cmd, trId); return true
    case 'GTC': if (!classic) return false; setting(s, cmd, trId, ['A', 'N']); return true
    case 'BLP': setting(s, cmd, trId, ['AL', 'BL']); return true
    case 'PRP': prp(s, cmd, trId); return true
    case 'REA': if (d >= 10) return false; rea(s, cmd, trId); return true
    case 'ADD': if (d >= 10) return false; addRemove(s, cmd, trId, true); return true
    case 'ADC': if (d < 10 || !classic) return false; adc(s, cmd, trId); return true
    case 'REM': if (!classic) return false; addRemove(s, cmd, trId, false); return true
    case 'ADL': case 'RML': if (classic) return false; adlRml(s, cmd, trId); return true
  }
  return false
}

const groupsOf = (u: UserRecord, d: number): string[] => u.groups.length === 0 && d <= 9 ? ['Other Contacts'] : u.groups
const groupGuid = (u: UserRecord, i: number): string => guidFor(`${accountKey(u.account)}/group/${i}`)

// C: SYN 8 0 -> S: SYN 8 12 2 2, GTC A, BLP AL, PRP .., LSG .., LST .., BPR ..   (layouts of commands.md section 3)
function syn(s: NsSession, cmd: CommandEvent, t: number): void {
  const d = s.dialect
  const u = s.user
  const ver = u.listVersion
  if (d <= 9 && cmd.args[0] === String(ver)) {
    s.send('SYN', t, d <= 7 ? [ver] : [ver, u.contacts.size, groupsOf(u, d).length])
    return
  }
  const contacts = [...u.contacts].map(([key, entry]) => ({ key, entry, rec: s.hub.directory.get(key) }))
  const groups = groupsOf(u, d)
  if (d <= 7) {
    s.send('SYN', t, [ver])
    s.send('GTC', t, [ver, 'A'])
    s.send('BLP', t, [ver, 'AL'])
    if (d >= 6) groups.forEach((g, i) => s.send('LSG', t, [ver, i + 1, groups.length, i, encodeWireText(g), 0]))
    for (const list of CLASSIC_LISTS) {
      const members = contacts.filter((c) => (c.entry.lists & LIST_BITS[list]) !== 0)
      if (members.length === 0) s.send('LST', t, [list, ver, 0, 0])
      members.forEach((c, i) => {
        const tail = list === 'FL' ? [c.entry.groups.length > 0 ? c.entry.groups.join(',') : '0'] : []
        s.send('LST', t, [list, ver, i + 1, members.length, c.rec.account, c.rec.name, ...tail])
      })
    }
    return
  }
  if (d <= 9) s.send('SYN', t, [ver, contacts.length, groups.length])
  else s.send('SYN', t, [TIMESTAMP, TIMESTAMP, contacts.length, groups.length])
  s.send('GTC', null, ['A'])
  s.send('BLP', null, ['AL'])
  if (d >= 10) s.send('PRP', null, ['MFN', u.name])
  for (const [k, v] of u.phones) s.send('PRP', null, [k, v])
  groups.forEach((g, i) => s.send('LSG', null, d <= 9 ? [i, encodeWireText(g), 0] : [encodeWireText(g), groupGuid(u, i)]))
  for (const c of contacts) {
    const onFl = (c.entry.lists & LIST_BITS.FL) !== 0
    if (d <= 9) {
      const tail = onFl ? [c.entry.groups.length > 0 ? c.entry.groups.join(',') : '0'] : []
      s.send('LST', null, [c.rec.account, c.rec.name, c.entry.lists, ...tail])
    } else {
      const args = [`N=${c.rec.account}`, `F=${c.rec.name}`]
      if (onFl) args.push(`C=${guidFor(c.key)}`)
      args.push(String(c.entry.lists))
      if (d >= 12) args.push('1')
      if (c.entry.groups.length > 0) args.push(c.entry.groups.map((g) => groupGuid(u, g)).join(','))
      s.send('LST', null, args)
    }
    for (const [k, v] of c.rec.phones) s.send('BPR', null, [k, v])
  }
}

// C: BLP 8 AL -> S: BLP 8 <ver> AL (MSNP2-9) | BLP 8 AL (10+)
function setting(s: NsSession, cmd: CommandEvent, t: number, allowed: string[]): void {
  const value = cmd.args[0] ?? ''
  if (!allowed.includes(value)) return s.error(201, t)
  s.send(cmd.verb, t, s.dialect <= 9 ? [bump(s.user), value] : [value])
}

// C: PRP 10 MFN Alice%20A. -> S: PRP 10 MFN Alice%20A. (MSNP2-7 with the list version)
function prp(s: NsSession, cmd: CommandEvent, t: number): void {
  const [key = '', value] = cmd.args
  if (!/^[A-Z]{3}$/.test(key)) return s.error(201, t)
  if (key === 'MFN') {
    if (value === undefined) return s.error(201, t)
    s.rename(value)
  } else {
    s.user.phones = s.user.phones.filter(([k]) => k !== key)
    if (value !== undefined) s.user.phones.push([key, value])
  }
  const tail = value === undefined ? [key] : [key, value]
  s.send('PRP', t, s.dialect <= 7 ? [bump(s.user), ...tail] : tail)
}

// C: REA 18 alice@example.com Alice%20A. -> S: REA 18 <ver> alice@example.com Alice%20A.
function rea(s: NsSession, cmd: CommandEvent, t: number): void {
  const [account = '', name = ''] = cmd.args
  if (name === '' || !account.includes('@')) return s.error(201, t)
  if (accountKey(account) === s.key) s.rename(name)
  s.send('REA', t, [bump(s.user), account, name])
}

const listOf = (token: string | undefined): ListName | null =>
  token === 'FL' || token === 'AL' || token === 'BL' || token === 'RL' ? token : null

// C: ADD 20 FL bob@example.net Bob 0 -> S: ADD 20 FL <ver> bob@example.net Bob 0
// C: REM 17 BL bob@example.net       -> S: REM 17 BL <ver> bob@example.net  (10-12: echo, FL by GUID)
function addRemove(s: NsSession, cmd: CommandEvent, t: number, add: boolean): void {
  const list = listOf(cmd.args[0])
  const id = cmd.args[1] ?? ''
  if (list === null || (add && list === 'RL')) return s.error(201, t)
  const key = s.dialect >= 10 && list === 'FL' ? contactByGuid(s.user, id) : accountKey(id)
  if (key === null || !key.includes('@')) return s.error(add ? 201 : 216, t)
  const entry = s.user.contacts.get(key) ?? { lists: 0, groups: [] }
  const bit = LIST_BITS[list]
  if (add === ((entry.lists & bit) !== 0)) return s.error(add ? 215 : 216, t)
  entry.lists = add ? entry.lists | bit : entry.lists & ~bit
  s.user.contacts.set(key, entry)
  if (add) {
    const name = cmd.args[2] ?? id
    const group = list === 'FL' ? [cmd.args[3] ?? '0'] : []
    if (list === 'FL') entry.groups = group.map(Number).filter(Number.isInteger)
    s.send('ADD', t, [list, bump(s.user), id, name, ...group])
    if (list === 'FL' && s.presenceStarted) s.sendInitialPresence(t, new Set([key]))
  } else {
    s.send('REM', t, s.dialect <= 9 ? [list, bump(s.user), ...cmd.args.slice(1)] : cmd.args)
  }
}

// C: ADC 16 FL N=bob@example.net F=Bob -> S: ADC 16 FL N=bob@example.net F=Bob C=<guid>
function adc(s: NsSession, cmd: CommandEvent, t: number): void {
  const list = listOf(cmd.args[0])
  const target = cmd.args[1] ?? ''
  if (list === null || list === 'RL') return s.error(201, t)
  if (target.startsWith('C=')) {
    const key = contactByGuid(s.user, target.slice(2))
    if (key === null) return s.error(208, t)
    s.send('ADC', t, cmd.args)
    return
  }
  if (!target.startsWith('N=') || !target.slice(2).includes('@')) return s.error(201, t)
  const key = accountKey(target.slice(2))
  const entry = s.user.contacts.get(key) ?? { lists: 0, groups: [] }
  if ((entry.lists & LIST_BITS[list]) !== 0) return s.error(215, t)
  entry.lists |= LIST_BITS[list]
  s.user.contacts.set(key, entry)
  bump(s.user)
  if (list === 'FL') {
    const name = cmd.args[2] ?? `F=${target.slice(2)}`
    s.send('ADC', t, [list, target, name, `C=${guidFor(key)}`])
    if (s.presenceStarted) s.sendInitialPresence(t, new Set([key]))
  } else s.send('ADC', t, [list, target])
}

function contactByGuid(u: UserRecord, id: string): string | null {
  if (id.includes('@')) return accountKey(id)
  for (const key of u.contacts.keys()) if (guidFor(key) === id) return key
  return null
}

interface MlEntry { key: string; lists: number }

/** Reads an ADL/RML document; null when it is not one the server accepts (241). */
export function parseMl(xml: string): MlEntry[] | null {
  if (!/^\s*<ml[\s>]/.test(xml) || !/<\/ml>\s*$|<ml[^>]*\/>\s*$/.test(xml)) return null
  const out: MlEntry[] = []
  const domainRe = /<d\s+n="([^"]+)"\s*>([\s\S]*?)<\/d>/g
  for (let dm = domainRe.exec(xml); dm !== null; dm = domainRe.exec(xml)) {
    const domain = decodeWireText(dm[1]!)
    const contactRe = /<c\s+([^>]*?)\/?>/g
    let any = false
    for (let cm = contactRe.exec(dm[2]!); cm !== null; cm = contactRe.exec(dm[2]!)) {
      any = true
      const attrs = new Map<string, string>()
      const attrRe = /(\w+)="([^"]*)"/g
      for (let am = attrRe.exec(cm[1]!); am !== null; am = attrRe.exec(cm[1]!)) attrs.set(am[1]!, am[2]!)
      const local = attrs.get('n')
      const lists = Number(attrs.get('l'))
      if (local === undefined || local === '' || !Number.isInteger(lists) || lists <= 0 || lists > 31) return null
      out.push({ key: accountKey(`${local}@${domain}`), lists })
    }
    if (!any) return null
  }
  return out
}

// C: ADL 9 113 + <ml l="1"><d n="example.net"><c n="bob" l="3" t="1" /></d></ml> -> S: ADL 9 OK
// RL (8) and PL (16) may not be set by clients: 241 with the rejected document as payload.
function adlRml(s: NsSession, cmd: CommandEvent, t: number): void {
  const payload = cmd.payloadRaw ?? Buffer.alloc(0)
  const entries = parseMl(payload.toString('utf8'))
  const forbidden = LIST_BITS.RL | LIST_BITS.PL
  if (entries === null || entries.some((e) => (e.lists & forbidden) !== 0)) {
    s.send('241', t, [], payload)
    return
  }
  const added = new Set<string>()
  for (const e of entries) {
    const entry = s.user.contacts.get(e.key) ?? { lists: 0, groups: [] }
    if (cmd.verb === 'ADL') {
      if ((e.lists & LIST_BITS.FL) !== 0 && (entry.lists & LIST_BITS.FL) === 0) added.add(e.key)
      entry.lists |= e.lists
    } else entry.lists &= ~e.lists
    s.user.contacts.set(e.key, entry)
  }
  s.send(cmd.verb, t, ['OK'])
  if (added.size > 0 && s.presenceStarted) s.sendInitialPresence(t, added)
}

function bump(u: UserRecord): number {
  return ++u.listVersion
}
