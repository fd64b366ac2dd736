// An asynchronous rule: ask something slow (a directory, a database) whether a contact is
// allowed. While it runs, that connection's direction waits; if it has not answered within
// --rule-timeout (50 ms by default), the command gets the default action and a rule-error
// event says so. Here the "directory" is a Set behind a promise.
import type { Rule } from 'msnscope'

const blocked = new Set(['spammer@example.org'])
const lookup = async (account: string): Promise<boolean> => blocked.has(account.toLowerCase())

export default [
  {
    name: 'directory says no',
    match: async (c) => c.from === 'server' && c.verb === 'MSG' && c.contact !== null && await lookup(c.contact),
    action: 'block',
  },
] satisfies Rule[]
