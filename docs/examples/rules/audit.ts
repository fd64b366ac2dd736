// Label before deciding: tag and log rules mark a command and let the next rules look at it.
// Then mask two words, and let everything else through.
import type { Rule } from 'msnscope'

export default [
  { name: 'tag outside contacts', match: { verb: 'MSG', not: { contact: '*@example.com' } }, action: { type: 'tag', tags: ['external'] } },
  { name: 'log nudges', match: { verb: 'MSG', payloadKind: 'datacast' }, action: { type: 'log', message: 'nudge' } },
  { name: 'mask rude words', match: { verb: 'MSG', words: ['darn', 'heck'] }, action: { type: 'rewrite', mask: ['darn', 'heck'] } },
] satisfies Rule[]
