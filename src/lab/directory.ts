/**
 * The lab server's accounts: display names, groups, contact lists (FL/AL/BL/RL bits), phone
 * properties, and optional simulated presence for users who are "signed in" without a
 * connection (so a transcript's contacts can be online). Any account may log in; accounts not
 * configured start with empty lists.
 */
import { createHash } from 'node:crypto'
import { encodeWireText, psmDocument } from './messages.js'

export type ListName = 'FL' | 'AL' | 'BL' | 'RL' | 'PL'
export const LIST_BITS: Readonly<Record<ListName, number>> = { FL: 1, AL: 2, BL: 4, RL: 8, PL: 16 }

export interface LabContactConfig {
  account: string
  /** default FL, AL and RL */
  lists?: ListName[]
  /** indexes into the owner's `groups` */
  groups?: number[]
}

/** Presence of a user simulated by the server (changed later with `LabServer.setPresence`). */
export interface LabPresenceConfig {
  status: string
  caps?: string
  /** MSNObject XML (not encoded); default: none */
  msnobj?: string
  /** personal message (MSNP11+) */
  psm?: string
}

export interface LabUserConfig {
  account: string
  /** display name, plain text (sent URL-encoded); default: the account */
  name?: string
  /** when set, MD5 logins (MSNP2-7) must use it; otherwise any password is accepted */
  password?: string
  /** group names; MSNP2-9 number them 0, 1, ...; MSNP10+ give them GUIDs */
  groups?: string[]
  contacts?: (string | LabContactConfig)[]
  /** own phone properties (PHH, PHW, PHM), plain text */
  phones?: Partial<Record<'PHH' | 'PHW' | 'PHM', string>>
  presence?: LabPresenceConfig
}

export interface ContactEntry { lists: number; groups: number[] }

/** Presence as the server shows it to others. */
export interface PresenceState {
  status: string
  caps: string
  /** URL-encoded MSNObject or '0' */
  msnobj: string
  /** UBX document (MSNP11+) or null */
  psmData: Buffer | null
}

export interface UserRecord {
  account: string
  /** URL-encoded display name */
  name: string
  password: string | null
  groups: string[]
  contacts: Map<string, ContactEntry>
  /** [key, URL-encoded value] */
  phones: [string, string][]
  simulated: PresenceState | null
  listVersion: number
}

export const accountKey = (account: string): string => account.toLowerCase()

/** A stable GUID-shaped id for a name (contact and group ids of MSNP10+). */
export function guidFor(text: string): string {
  const h = createHash('md5').update(text).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

export function simulatedPresence(p: LabPresenceConfig): PresenceState {
  return {
    status: p.status,
    caps: p.caps ?? '0',
    msnobj: p.msnobj === undefined ? '0' : encodeWireText(p.msnobj),
    psmData: p.psm === undefined ? null : psmDocument(p.psm),
  }
}

/** alice, bob and carol, each on the others' lists: what the demo and the scenario use. */
export const DEFAULT_LAB_USERS: LabUserConfig[] = [
  { account: 'alice@example.com', name: 'Alice', groups: ['Friends'], contacts: [{ account: 'bob@example.net', groups: [0] }, 'carol@example.org'] },
  { account: 'bob@example.net', name: 'Bob', groups: ['Friends'], contacts: [{ account: 'alice@example.com', groups: [0] }, 'carol@example.org'] },
  { account: 'carol@example.org', name: 'Carol', contacts: ['alice@example.com', 'bob@example.net'] },
]

export class Directory {
  readonly #users = new Map<string, UserRecord>()

  constructor(configs: readonly LabUserConfig[]) {
    for (const c of configs) this.#add(c)
  }

  #add(c: LabUserConfig): UserRecord {
    const contacts = new Map<string, ContactEntry>()
    for (const entry of c.contacts ?? []) {
      const e = typeof entry === 'string' ? { account: entry } : entry
      const lists = (e.lists ?? ['FL', 'AL', 'RL']).reduce((bits, l) => bits | LIST_BITS[l], 0)
      contacts.set(accountKey(e.account), { lists, groups: e.groups ?? [] })
    }
    const rec: UserRecord = {
      account: c.account,
      name: encodeWireText(c.name ?? c.account),
      password: c.password ?? null,
      groups: [...(c.groups ?? [])],
      contacts,
      phones: Object.entries(c.phones ?? {}).map(([k, v]) => [k, encodeWireText(v)]),
      simulated: c.presence === undefined ? null : simulatedPresence(c.presence),
      listVersion: 1,
    }
    this.#users.set(accountKey(c.account), rec)
    return rec
  }

  /** The record of an account, created (empty lists) on first use: the lab accepts any account. */
  get(account: string): UserRecord {
    return this.#users.get(accountKey(account)) ?? this.#add({ account })
  }

  find(account: string): UserRecord | undefined {
    return this.#users.get(accountKey(account))
  }

  all(): IterableIterator<UserRecord> {
    return this.#users.values()
  }
}
