/** The help screen (`?`): keys, and the filter language with every filter the parser knows. */
import { FILTER_HELP } from '../filter.js'
import { esc } from './tags.js'

const KEYS: Array<[string, string]> = [
  ['j k  ↓ ↑', 'next / previous event (or scroll the focused pane)'],
  ['g G  Home End', 'first / last event; G also follows new events'],
  ['Ctrl-d Ctrl-u  PgDn PgUp  Space', 'page down / up'],
  ['Enter', 'event list: detail full screen; connections: show that connection only'],
  ['Tab  Shift-Tab  h l', 'move between panes (events, detail, chat, connections)'],
  ['F', 'follow new events on / off'],
  ['p', 'pause the list (events are still recorded and counted)'],
  ['f', 'filter the list (empty to show everything)'],
  ['/  n  N', 'search with a filter; next / previous match'],
  ['m  M', 'mark the event; show only marked events (again: back)'],
  ['i', 'intercept: hold commands matching a filter (empty to stop)'],
  ['a  A', 'release the held command / all held commands'],
  ['e', 'edit the held command, then Ctrl-s to release it (Esc cancels)'],
  ['r  R', 'replay the selected command / its whole session'],
  ['L', 'reload rules'],
  ['w', 'save the events shown to a file (JSON lines with raw bytes)'],
  ['Esc', 'leave full screen, close a prompt'],
  ['q', 'back / quit          Q  Ctrl-c  quit at once'],
  ['?', 'this help (q or Esc to close)'],
]

export function helpLines(): string[] {
  const out: string[] = ['{bold}msnscope dashboard{/}', '', '{cyan-fg}{bold}Keys{/}']
  for (const [k, v] of KEYS) out.push(`  {bold}${esc(k.padEnd(32))}{/} ${esc(v)}`)
  out.push('', '{cyan-fg}{bold}Filters{/}  (as in mitmproxy: combine with & | ! and parentheses; side by side means &)', '')
  for (const [k, v] of FILTER_HELP) out.push(`  {bold}${esc(k.padEnd(18))}{/} ${esc(v)}`)
  out.push(`  {bold}${'text'.padEnd(18)}{/} free text: verb, arguments or message text contain it ("quote spaces")`)
  out.push('', '  Examples:  ~verb MSG & ~from client     ~role SB & !~p2p     (~err | ~blocked) & ~account alice')
  out.push('', '{cyan-fg}{bold}Colours{/}  {cyan-fg}auth{/}  {blue-fg}{bold}redirects{/}  {blue-fg}switchboard{/}  {green-fg}presence{/}  {yellow-fg}contacts{/}  {magenta-fg}{bold}messages{/}  {gray-fg}keep-alive{/}  {red-fg}{bold}errors{/}')
  out.push('          {green-fg}{bold}→{/} client to server   {yellow-fg}{bold}←{/} server to client   {white-fg}{red-bg}{bold} BLOCKED {/}  {black-fg}{yellow-bg}{bold} REWRITTEN {/}  {black-fg}{yellow-bg}{bold} HELD {/}')
  return out
}
