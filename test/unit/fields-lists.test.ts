// Field decoding of the contact-list and settings commands, per dialect layout (commands.md
// section 3 and the line part of the MSNP13+ list commands of section 5).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decode, fields } from '../helpers/decode.js'


const BOB_GUID = '9e1a0f0c-4b7e-4f0e-8a51-6b1c2d3e4f50'
const GROUP_GUID = '3f6a2d1c-8b9e-4a7f-b5c4-d3e2f1a0b9c8'

test('SYN: versions, then counts in the 8-9 and 10-12 replies', () => {
  assert.deepEqual(fields('SYN 8 0', 'client', 8), { listVersion: '0' })
  assert.deepEqual(fields('SYN 8 7', 'server', 7), { listVersion: '7' })
  assert.deepEqual(fields('SYN 8 12 2 2', 'server', 8), { listVersion: '12', contactCount: 2, groupCount: 2 })
  assert.deepEqual(fields('SYN 8 2005-06-01T10:00:00.0000000-07:00 2005-06-01T10:00:00.0000000-07:00', 'client', 12), {
    listVersion: '2005-06-01T10:00:00.0000000-07:00', settingsVersion: '2005-06-01T10:00:00.0000000-07:00',
  })
  assert.deepEqual(fields('SYN 8 2005-06-08T18:22:41.5230000-07:00 2005-06-08T18:22:41.5230000-07:00 2 1', 'server', 12), {
    listVersion: '2005-06-08T18:22:41.5230000-07:00', settingsVersion: '2005-06-08T18:22:41.5230000-07:00',
    contactCount: 2, groupCount: 1,
  })
})

test('GTC and BLP: the setting with its meaning, with or without list version and TrID', () => {
  assert.deepEqual(fields('GTC 15 N', 'client', 8), { setting: 'N', meaning: 'allow without asking' })
  assert.deepEqual(fields('GTC 8 7 A', 'server', 7), { listVersion: '7', setting: 'A', meaning: 'ask when someone adds you' })
  const inSyn = decode('GTC A', 'server', 8)
  assert.equal(inSyn.trId, null)
  assert.deepEqual(inSyn.fields, { setting: 'A', meaning: 'ask when someone adds you' })
  assert.deepEqual(fields('BLP 8 AL', 'client', 18), { setting: 'AL', meaning: 'allow everyone not blocked' })
  assert.deepEqual(fields('BLP 8 7 BL', 'server', 7), { listVersion: '7', setting: 'BL', meaning: 'block everyone not allowed' })
  assert.deepEqual(fields('BLP AL', 'server', 12), { setting: 'AL', meaning: 'allow everyone not blocked' })
})

test('LST MSNP2-7: one list per line, numbered, with groups on FL', () => {
  const e = decode('LST 8 FL 7 1 1 bob@example.net Bob 1', 'server', 7)
  assert.equal(e.trId, 8)
  assert.deepEqual(e.fields, {
    list: 'FL', listName: 'forward list', listVersion: '7', index: 1, total: 1,
    account: 'bob@example.net', displayName: 'Bob', groups: ['1'],
  })
  assert.deepEqual(fields('LST 8 BL 7 0 0', 'server', 7), { list: 'BL', listName: 'block list', listVersion: '7', index: 0, total: 0 })
  assert.deepEqual(fields('LST 8 FL', 'client', 5), { list: 'FL', listName: 'forward list' })
})

test('LST MSNP8-9: account, name, list bits and group ids', () => {
  assert.deepEqual(fields('LST bob@example.net Bob 11 0', 'server', 8), {
    account: 'bob@example.net', displayName: 'Bob', listBits: 11, lists: ['FL', 'AL', 'RL'], groups: ['0'],
  })
  assert.deepEqual(fields('LST carol@example.org Carol%20C. 13 0,1', 'server', 9), {
    account: 'carol@example.org', displayName: 'Carol C.', listBits: 13, lists: ['FL', 'BL', 'RL'], groups: ['0', '1'],
  })
  assert.deepEqual(fields('LST dave@example.org Dave 8', 'server', 8), {
    account: 'dave@example.org', displayName: 'Dave', listBits: 8, lists: ['RL'],
  })
})

test('LST MSNP10-12: N= F= C= prefixes, network id from MSNP12, group GUIDs', () => {
  assert.deepEqual(fields(`LST N=bob@example.net F=Bob C=${BOB_GUID} 11 ${GROUP_GUID}`, 'server', 10), {
    account: 'bob@example.net', displayName: 'Bob', contactGuid: BOB_GUID, listBits: 11, lists: ['FL', 'AL', 'RL'], groups: [GROUP_GUID],
  })
  assert.deepEqual(fields(`LST N=bob@example.net F=Bob C=${BOB_GUID} 11 1 ${GROUP_GUID}`, 'server', 12), {
    account: 'bob@example.net', displayName: 'Bob', contactGuid: BOB_GUID, listBits: 11, lists: ['FL', 'AL', 'RL'],
    networkId: 1, networkName: 'messenger', groups: [GROUP_GUID],
  })
  assert.deepEqual(fields('LST N=carol@example.org F=Carol C=0d2c4b6a-1f3e-4d5c-9b8a-7e6f5d4c3b2a 13 1', 'server', 12), {
    account: 'carol@example.org', displayName: 'Carol', contactGuid: '0d2c4b6a-1f3e-4d5c-9b8a-7e6f5d4c3b2a', listBits: 13,
    lists: ['FL', 'BL', 'RL'], networkId: 1, networkName: 'messenger',
  })
  // a reverse-list-only entry has no address-book data
  assert.deepEqual(fields('LST N=erin@example.org 24 32', 'server', 12), {
    account: 'erin@example.org', listBits: 24, lists: ['RL', 'PL'], networkId: 32, networkName: 'yahoo',
  })
})

test('LSG in its three layouts', () => {
  assert.deepEqual(fields('LSG 8 7 1 2 0 Other%20Contacts 0', 'server', 7), {
    listVersion: '7', index: 1, total: 2, groupId: '0', groupName: 'Other Contacts',
  })
  assert.deepEqual(fields('LSG 1 Coworkers 0', 'server', 8), { groupId: '1', groupName: 'Coworkers' })
  assert.deepEqual(fields(`LSG Coworkers ${GROUP_GUID}`, 'server', 12), { groupName: 'Coworkers', groupId: GROUP_GUID })
  // dialect unknown: the shape decides
  assert.deepEqual(fields('LSG 0 Other%20Contacts 0', 'server'), { groupId: '0', groupName: 'Other Contacts' })
  assert.deepEqual(fields('LSG 8 7 2 2 1 Friends 0', 'server'), { listVersion: '7', index: 2, total: 2, groupId: '1', groupName: 'Friends' })
})

test('PRP and BPR: property, its meaning and the decoded value', () => {
  assert.deepEqual(fields('PRP 10 MFN Alice%20A.', 'client', 10), { property: 'MFN', propertyName: 'display name', value: 'Alice A.' })
  assert.deepEqual(fields('PRP 10 MFN Alice%20A.', 'server', 18), { property: 'MFN', propertyName: 'display name', value: 'Alice A.' })
  assert.deepEqual(fields('PRP 10 12 PHH 555%200100', 'server', 7), {
    listVersion: '12', property: 'PHH', propertyName: 'home phone', value: '555 0100',
  })
  assert.deepEqual(fields('PRP PHH 555%200100', 'server', 8), { property: 'PHH', propertyName: 'home phone', value: '555 0100' })
  assert.deepEqual(fields('PRP 11 MOB', 'client', 8), { property: 'MOB', propertyName: 'others may page my mobile' })
  assert.deepEqual(fields('BPR PHM 555%200199', 'server', 8), { property: 'PHM', propertyName: 'mobile phone', value: '555 0199' })
  assert.deepEqual(fields('BPR 12 bob@example.net PHM 555%200199', 'server', 7), {
    listVersion: '12', account: 'bob@example.net', property: 'PHM', propertyName: 'mobile phone', value: '555 0199',
  })
})

test('ADD (MSNP2-9): request, echo with list version, and an unsolicited reverse-list add', () => {
  assert.deepEqual(fields('ADD 20 FL bob@example.net Bob 0', 'client', 8), {
    list: 'FL', listName: 'forward list', account: 'bob@example.net', displayName: 'Bob', groupId: '0',
  })
  assert.deepEqual(fields('ADD 20 FL 13 bob@example.net Bob 0', 'server', 8), {
    list: 'FL', listName: 'forward list', listVersion: '13', account: 'bob@example.net', displayName: 'Bob', groupId: '0',
  })
  assert.deepEqual(fields('ADD 0 RL 14 carol@example.org Carol%20C.', 'server', 7), {
    list: 'RL', listName: 'reverse list', listVersion: '14', account: 'carol@example.org', displayName: 'Carol C.', unsolicited: true,
  })
})

test('ADC (MSNP10-12): prefixed account, name, contact GUID and group', () => {
  assert.deepEqual(fields('ADC 16 FL N=bob@example.net F=Bob', 'client', 10), {
    list: 'FL', listName: 'forward list', account: 'bob@example.net', displayName: 'Bob',
  })
  assert.deepEqual(fields(`ADC 16 FL N=bob@example.net F=Bob C=${BOB_GUID}`, 'server', 10), {
    list: 'FL', listName: 'forward list', account: 'bob@example.net', displayName: 'Bob', contactGuid: BOB_GUID,
  })
  assert.deepEqual(fields(`ADC 17 FL C=${BOB_GUID} ${GROUP_GUID}`, 'client', 11), {
    list: 'FL', listName: 'forward list', contactGuid: BOB_GUID, groupId: GROUP_GUID,
  })
  assert.deepEqual(fields('ADC 0 RL N=carol@example.org F=Carol', 'server', 12), {
    list: 'RL', listName: 'reverse list', account: 'carol@example.org', displayName: 'Carol', unsolicited: true,
  })
})

test('REM: by account or contact GUID, with list version in MSNP2-9 replies', () => {
  assert.deepEqual(fields('REM 17 BL bob@example.net', 'client', 8), { list: 'BL', listName: 'block list', account: 'bob@example.net' })
  assert.deepEqual(fields('REM 17 BL 15 bob@example.net', 'server', 8), {
    list: 'BL', listName: 'block list', listVersion: '15', account: 'bob@example.net',
  })
  assert.deepEqual(fields(`REM 18 FL ${BOB_GUID} ${GROUP_GUID}`, 'client', 10), {
    list: 'FL', listName: 'forward list', contactGuid: BOB_GUID, groupId: GROUP_GUID,
  })
  assert.deepEqual(fields(`REM 18 FL ${BOB_GUID}`, 'server', 12), { list: 'FL', listName: 'forward list', contactGuid: BOB_GUID })
  assert.deepEqual(fields('REM 0 RL 16 bob@example.net', 'server', 9), {
    list: 'RL', listName: 'reverse list', listVersion: '16', account: 'bob@example.net', unsolicited: true,
  })
})

test('REA and SBP rename', () => {
  assert.deepEqual(fields('REA 18 alice@example.com Alice%20A.', 'client', 8), { account: 'alice@example.com', displayName: 'Alice A.' })
  assert.deepEqual(fields('REA 18 19 alice@example.com Alice%20A.', 'server', 8), {
    listVersion: '19', account: 'alice@example.com', displayName: 'Alice A.',
  })
  assert.deepEqual(fields(`SBP 19 ${BOB_GUID} MFN Bobby%20B`, 'client', 10), {
    contactGuid: BOB_GUID, property: 'MFN', propertyName: 'display name', value: 'Bobby B',
  })
})

test('ADG, RMG and REG in the numbered and GUID eras', () => {
  assert.deepEqual(fields('ADG 21 Coworkers 0', 'client', 8), { groupName: 'Coworkers' })
  assert.deepEqual(fields('ADG 21 20 Coworkers 2 0', 'server', 8), { listVersion: '20', groupName: 'Coworkers', groupId: '2' })
  assert.deepEqual(fields('ADG 21 Best%20Friends', 'client', 10), { groupName: 'Best Friends' })
  assert.deepEqual(fields(`ADG 21 Best%20Friends ${GROUP_GUID}`, 'server', 10), { groupName: 'Best Friends', groupId: GROUP_GUID })
  assert.deepEqual(fields('RMG 22 1', 'client', 8), { groupId: '1' })
  assert.deepEqual(fields('RMG 22 21 1', 'server', 8), { listVersion: '21', groupId: '1' })
  assert.deepEqual(fields(`RMG 22 ${GROUP_GUID}`, 'server', 12), { groupId: GROUP_GUID })
  assert.deepEqual(fields('REG 23 1 Work 0', 'client', 8), { groupId: '1', groupName: 'Work' })
  assert.deepEqual(fields('REG 23 22 1 Work 0', 'server', 8), { listVersion: '22', groupId: '1', groupName: 'Work' })
  assert.deepEqual(fields(`REG 23 ${GROUP_GUID} Old%20Work`, 'client', 12), { groupId: GROUP_GUID, groupName: 'Old Work' })
  assert.deepEqual(fields(`REG 23 ${GROUP_GUID} Work`, 'server', 12), { groupId: GROUP_GUID, groupName: 'Work' })
})

test('ADL, RML and FQY lines: acknowledgements and pushes', () => {
  const xml = '<ml l="1"><d n="example.net"><c n="bob" l="3" t="1" /></d></ml>'
  const req = decode(`ADL 9 ${xml.length}`, 'client', 18, xml)
  assert.equal(req.payloadLength, xml.length)
  assert.deepEqual(req.fields, {})
  assert.deepEqual(fields('ADL 9 OK', 'server', 18), { ok: true })
  const push = decode(`ADL 0 ${xml.length}`, 'server', 18, xml)
  assert.deepEqual(push.fields, { unsolicited: true })
  assert.deepEqual(fields('RML 31 OK', 'server', 13), { ok: true })
  assert.deepEqual(fields(`RML 0 ${xml.length}`, 'server', 13, xml), { unsolicited: true })
  assert.deepEqual(fields('FQY 32 3', 'client', 14, '<x>'), {})
})
