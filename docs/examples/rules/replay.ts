// Replay: forward a command, then send it again. An urgent message from our client reaches the
// switchboard three times (each copy with a fresh TrID; the server's ACKs of the copies stop at
// msnscope). And when someone sends Alice "!away", her side of the conversation answers with the
// messages recorded in greeting.jsonl, read once when this file loads.
import type { Rule } from 'msnscope'

export default [
  {
    name: 'urgent, three times',
    match: { verb: 'MSG', from: 'client', text: 'urgent' },
    action: { type: 'replay', times: 2 },
  },
  {
    name: 'away message',
    match: { verb: 'MSG', from: 'server', account: 'alice@example.com', text: '!away' },
    action: { type: 'replay', file: 'greeting.jsonl', to: 'server' },
  },
] satisfies Rule[]
