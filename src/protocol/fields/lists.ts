/**
 * Contact lists, groups and settings: the classic SYN family (MSNP2-12: SYN GTC BLP LST LSG PRP
 * BPR ADD ADC REM REA SBP ADG RMG REG) and the MSNP13+ line of ADL RML FQY (their XML payloads
 * are decoded elsewhere). Layouts change per dialect; with the dialect unknown the shape decides.
 */
import type { CommandEvent, Fields } from '../events.js'
import {
  addAccount, addName, addNetwork, isDecimal, isGuid, isListName, LIST_NAMES, listsFromBits, splitGroups, toInt,
  urlDecode, type FieldDecoder,
} from './common.js'

function addList(f: Fields, token: string | undefined): void {
  if (token === undefined) return
  f.list = token
  const name = LIST_NAMES.get(token)
  if (name !== undefined) f.listName = name
}

function addListBits(f: Fields, token: string | undefined): boolean {
  const bits = toInt(token)
  if (bits === undefined) return false
  f.listBits = bits
  f.lists = listsFromBits(bits)
  return true
}

const unsolicited = (cmd: CommandEvent, f: Fields): Fields => {
  if (cmd.from === 'server' && cmd.trId === 0) f.unsolicited = true
  return f
}

/** `N=`, `F=`, `C=` tokens (MSNP10-12 LST and ADC) in any order from `i`; returns the next index. */
function prefixed(f: Fields, a: readonly string[], i: number): number {
  for (; i < a.length; i++) {
    const t = a[i]!
    if (t.length < 2 || t.charCodeAt(1) !== 61 /* = */) break
    const v = t.slice(2)
    const k = t.charCodeAt(0)
    if (k === 78 /* N */) addAccount(f, v)
    else if (k === 70 /* F */) f.displayName = urlDecode(v)
    else if (k === 67 /* C */) f.contactGuid = v
    else break
  }
  return i
}

// C: SYN 8 0 | SYN 8 <list-ts> <settings-ts>
// S: SYN 8 7 (2-7) | SYN 8 12 2 2 (8-9) | SYN 8 <list-ts> <settings-ts> 2 1 (10-12)
function syn(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (a[0] !== undefined) f.listVersion = a[0]
  if (cmd.from === 'server' && a.length === 3) {
    addCount(f, a[1], 'contactCount')
    addCount(f, a[2], 'groupCount')
  } else {
    if (a[1] !== undefined) f.settingsVersion = a[1]
    addCount(f, a[2], 'contactCount')
    addCount(f, a[3], 'groupCount')
  }
  return f
}

function addCount(f: Fields, token: string | undefined, key: string): void {
  const n = toInt(token)
  if (n !== undefined) f[key] = n
}

const GTC_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['A', 'ask when someone adds you'], ['N', 'allow without asking'],
])
const BLP_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['AL', 'allow everyone not blocked'], ['BL', 'block everyone not allowed'],
])

/** GTC/BLP: `<setting>`, or `<list-version> <setting>` in MSNP2-9 server replies. */
const setting = (meanings: ReadonlyMap<string, string>): FieldDecoder => (cmd) => {
  const a = cmd.args
  const f: Fields = {}
  let s = a[0]
  if (a.length >= 2) { f.listVersion = a[0]; s = a[1] }
  if (s === undefined) return f
  f.setting = s
  const m = meanings.get(s)
  if (m !== undefined) f.meaning = m
  return f
}

/*
 * 2-7:   LST 8 FL 7 1 1 bob@example.net Bob 1     (C: LST 8 FL to ask for a list)
 * 8-9:   LST bob@example.net Bob 11 0
 * 10-11: LST N=bob@example.net F=Bob C=<guid> 11 <group-guids>
 * 12:    LST N=bob@example.net F=Bob C=<guid> 11 1 <group-guids>
 */
function lst(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  const first = a[0]
  if (first === undefined) return f
  if (isListName(first)) {
    addList(f, first)
    if (a[1] !== undefined) f.listVersion = a[1]
    addCount(f, a[2], 'index')
    addCount(f, a[3], 'total')
    addAccount(f, a[4])
    addName(f, a[5])
    if (a[6] !== undefined) f.groups = splitGroups(a[6])
    return f
  }
  let i: number
  if (first.startsWith('N=')) i = prefixed(f, a, 0)
  else {
    addAccount(f, first)
    addName(f, a[1])
    i = 2
  }
  if (!addListBits(f, a[i])) return f
  i++
  // MSNP12 puts a network id before the group GUIDs; from MSNP10 groups are GUIDs, never decimals
  if (first.startsWith('N=') && isDecimal(a[i])) {
    addNetwork(f, a[i])
    i++
  }
  if (a[i] !== undefined) f.groups = splitGroups(a[i]!)
  return f
}

// 2-7: LSG 8 7 1 2 0 Other%20Contacts 0   8-9: LSG 0 Other%20Contacts 0   10-12: LSG Coworkers <guid>
function lsg(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.trId !== null && a.length >= 5) {
    f.listVersion = a[0]
    addCount(f, a[1], 'index')
    addCount(f, a[2], 'total')
    if (a[3] !== undefined) f.groupId = a[3]
    addName(f, a[4], 'groupName')
    return f
  }
  if (a.length === 2 || isGuid(a[1])) {
    addName(f, a[0], 'groupName')
    if (a[1] !== undefined) f.groupId = a[1]
    return f
  }
  if (a[0] !== undefined) f.groupId = a[0]
  addName(f, a[1], 'groupName')
  return f
}

/** Own and contact properties (PRP, BPR, SBP). Phone numbers are URL-encoded like names. */
export const PROPERTIES: ReadonlyMap<string, string> = new Map([
  ['PHH', 'home phone'], ['PHW', 'work phone'], ['PHM', 'mobile phone'],
  ['MOB', 'others may page my mobile'], ['MBE', 'mobile device enabled'], ['WWE', 'web watch enabled'],
  ['MFN', 'display name'],
])

function addProperty(f: Fields, key: string | undefined, value: string | undefined): void {
  if (key === undefined) return
  f.property = key
  const m = PROPERTIES.get(key)
  if (m !== undefined) f.propertyName = m
  if (value !== undefined) f.value = urlDecode(value)
}

const isPropertyKey = (s: string | undefined): boolean =>
  s !== undefined && s.length === 3 && !isDecimal(s)

// C: PRP 10 MFN Alice%20A.   S: PRP 10 MFN Alice%20A. | PRP 10 12 PHH 555%200100 (2-9) | PRP PHH 555%200100 (SYN)
function prp(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'server' && a.length >= 2 && isDecimal(a[0]) && isPropertyKey(a[1])) {
    f.listVersion = a[0]
    addProperty(f, a[1], a[2])
  } else addProperty(f, a[0], a[1])
  return f
}

// 2-7: BPR 12 bob@example.net PHM 555%200199   8-12: BPR PHM 555%200199
function bpr(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (a.length >= 3) {
    f.listVersion = a[0]
    addAccount(f, a[1])
    addProperty(f, a[2], a[3])
  } else addProperty(f, a[0], a[1])
  return f
}

// C: ADD 20 FL bob@example.net Bob 0   S: ADD 20 FL 13 bob@example.net Bob 0 | ADD 0 RL 13 bob@example.net Bob
function add(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addList(f, a[0])
  let i = 1
  if (cmd.from === 'server' && isDecimal(a[1]) && a.length >= 4) { f.listVersion = a[1]; i = 2 }
  addAccount(f, a[i])
  addName(f, a[i + 1])
  if (a[i + 2] !== undefined) f.groupId = a[i + 2]
  return unsolicited(cmd, f)
}

// C: ADC 16 FL N=bob@example.net F=Bob | ADC 16 FL C=<guid> <group-guid>   S: echo with C=<guid>
function adc(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addList(f, a[0])
  const i = prefixed(f, a, 1)
  if (a[i] !== undefined) f.groupId = a[i]
  return unsolicited(cmd, f)
}

// C: REM 17 BL bob@example.net | REM 17 FL <contact-guid> [<group>]   S: REM 17 BL 14 bob@example.net (2-9)
function rem(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  addList(f, a[0])
  let i = 1
  if (cmd.from === 'server' && a.length >= 3 && isDecimal(a[1]) && (cmd.dialect === null || cmd.dialect <= 9)) {
    f.listVersion = a[1]
    i = 2
  }
  const who = a[i]
  if (isGuid(who)) f.contactGuid = who
  else addAccount(f, who)
  if (a[i + 1] !== undefined) f.groupId = a[i + 1]
  return unsolicited(cmd, f)
}

// C: REA 18 alice@example.com Alice%20A.   S: REA 18 15 alice@example.com Alice%20A.
function rea(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  let i = 0
  if (cmd.from === 'server' && a.length >= 3) { f.listVersion = a[0]; i = 1 }
  addAccount(f, a[i])
  addName(f, a[i + 1])
  return f
}

// SBP 19 <contact-guid> MFN Bobby
function sbp(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (a[0] !== undefined) f.contactGuid = a[0]
  addProperty(f, a[1], a[2])
  return f
}

// 2-9: C ADG 21 Coworkers 0, S ADG 21 16 Coworkers 1 0   10-12: C ADG 21 Coworkers, S ADG 21 Coworkers <guid>
function adg(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'server' && a.length >= 3 && isDecimal(a[0])) {
    f.listVersion = a[0]
    addName(f, a[1], 'groupName')
    if (a[2] !== undefined) f.groupId = a[2]
    return f
  }
  addName(f, a[0], 'groupName')
  if (cmd.from === 'server' && a[1] !== undefined) f.groupId = a[1]
  return f
}

// C: RMG 22 1   S: RMG 22 17 1 (2-9) | RMG 22 <guid> (10-12)
function rmg(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  if (cmd.from === 'server' && a.length >= 2) { f.listVersion = a[0]; f.groupId = a[1] }
  else if (a[0] !== undefined) f.groupId = a[0]
  return f
}

// 2-9: C REG 23 1 Work 0, S REG 23 18 1 Work 0   10-12: REG 23 <guid> Work (replies vary)
function reg(cmd: CommandEvent): Fields {
  const a = cmd.args
  const f: Fields = {}
  let i = 0
  if (cmd.from === 'server' && (a.length >= 4 || (a.length === 3 && a[2] !== '0' && isDecimal(a[0])))) {
    f.listVersion = a[0]
    i = 1
  }
  if (a[i] !== undefined) f.groupId = a[i]
  addName(f, a[i + 1], 'groupName')
  return f
}

// C: ADL 9 <len>   S: ADL 9 OK | ADL 0 <len> (someone added you)
function adl(cmd: CommandEvent): Fields {
  const f: Fields = {}
  if (cmd.args[0] === 'OK') f.ok = true
  return unsolicited(cmd, f)
}

export const LIST_FIELDS: ReadonlyArray<readonly [string, FieldDecoder]> = [
  ['SYN', syn], ['GTC', setting(GTC_SETTINGS)], ['BLP', setting(BLP_SETTINGS)], ['LST', lst], ['LSG', lsg],
  ['PRP', prp], ['BPR', bpr], ['ADD', add], ['ADC', adc], ['REM', rem], ['REA', rea], ['SBP', sbp],
  ['ADG', adg], ['RMG', rmg], ['REG', reg], ['ADL', adl], ['RML', adl], ['FQY', () => ({})],
]
