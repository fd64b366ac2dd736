/**
 * The built-in rule sets behind the preset flags: `--block-all`, `--block-file-transfers` and
 * `--block-words FILE`. They are ordinary rules (and appear as such in listings and counters).
 */
import type { Rule } from './rule.js'

/** The verbs that carry instant messages: SB MSG, MSNP21 SDG, Yahoo! interop UUM/UBM. */
export const MESSAGE_VERBS: readonly string[] = ['MSG', 'SDG', 'UUM', 'UBM']

/** Block every MSN command in both directions; a client is refused at VER (or at USR/ANS). */
export function blockAllRules(): Rule[] {
  return [{
    name: 'block-all',
    match: {},
    action: { type: 'block' },
    description: 'Blocks every MSN command, on TCP and on the HTTP gateway: clients are refused at their first command as a server refuses them (VER 0, 911 at USR or ANS).',
  }]
}

/** Block file-transfer invitations (MSNFTP and P2P) in both directions, declining them. */
export function blockFileTransferRules(): Rule[] {
  return [{
    name: 'block-file-transfers',
    match: { fileTransfer: true },
    action: { type: 'block' },
    description: 'Blocks file-transfer invitations (MSNFTP and MSNSLP) in both directions; the inviter sees a decline and the chat goes on.',
  }]
}

/** Words from a word-list file: one per line; blank lines and lines starting with # are ignored. */
export function parseWordList(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

/** Block instant messages that contain any of these words (whole words, any case). */
export function blockWordsRules(words: readonly string[]): Rule[] {
  return [{
    name: 'block-words',
    match: { verb: MESSAGE_VERBS, words },
    action: { type: 'block' },
  }]
}
