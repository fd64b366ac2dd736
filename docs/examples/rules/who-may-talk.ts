// Who may talk to whom, with the answers a real server gives: calling a contact that is not
// allowed fails with 217 ("not accepting instant messages"), and the account that is not allowed
// at all is refused at sign-in (911), as a server refuses a bad password.
import type { Rule } from 'msnscope'

export default [
  {
    name: 'no interns on messenger',
    match: { account: 'intern-*@example.com', not: { verb: ['VER', 'CVR', 'INF'] } },
    action: 'block',
  },
  {
    name: 'no calls outside the company',
    match: { verb: 'CAL', from: 'client', not: { contact: '*@example.com' } },
    action: { type: 'reject', code: 217 },
  },
] satisfies Rule[]
