// deploy server remove: forget a pinned server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['server', 'remove'],
  summary: 'forget a pinned server',
  args: 'HOST[:PORT]',
  positionals: { min: 1, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/server.js')).serverRemove(ctx, { address: positionals[0] ?? '' }),
});
