// JavaScript works too (the types still help in an editor). When someone joins a conversation,
// tell our client, as a message from an address of our choosing.
/** @type {import('msnscope').Rule[]} */
export default [
  {
    name: 'recording notice',
    match: { verb: 'JOI', from: 'server' },
    action: {
      type: 'inject',
      to: 'client',
      commands: { message: 'This conversation is recorded.', from: 'compliance@example.com', name: 'Compliance' },
    },
  },
]
