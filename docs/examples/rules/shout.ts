// Rewrite message text: "hello" becomes "HELLO". Only the text changes; the MIME headers
// (font, colour) are kept byte for byte and the MSG payload length is recomputed.
import type { Rule } from 'msnscope'

export default [
  {
    name: 'shout hello',
    match: { verb: 'MSG', from: 'client', text: 'hello' },
    action: { type: 'rewrite', text: (text) => text.replace(/hello/gi, 'HELLO') },
  },
] satisfies Rule[]
