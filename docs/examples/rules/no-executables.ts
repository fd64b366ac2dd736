// Decline transfers of programs, whichever way they go (MSNFTP and P2P). The sender sees the
// invitation declined, the chat goes on; other files pass.
import type { Rule } from 'msnscope'

export default [
  {
    name: 'no executables',
    match: { fileTransfer: true, fileName: ['*.exe', '*.scr', '*.bat', '*.com', '*.pif', '*.vbs'] },
    action: 'block',
  },
] satisfies Rule[]
