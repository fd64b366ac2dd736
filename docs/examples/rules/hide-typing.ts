// Hide typing notifications: nobody sees "alice is typing…". They are sent without an
// acknowledgement (MSG t U), so dropping them needs no answer.
import type { Rule } from 'msnscope'

export default [
  {
    name: 'hide typing notifications',
    match: (c) => c.verb === 'MSG' && c.contentType === 'text/x-msmsgscontrol',
    action: { type: 'block' },
  },
] satisfies Rule[]
