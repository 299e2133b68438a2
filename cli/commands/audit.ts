// deploy audit: show what was done to the service on every server, and by which key.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['audit'],
  summary: 'show what was done to the service on every server, and by which key',
  positionals: { min: 0, max: 0 },
  options: {
    lines: { type: 'string', short: 'n', value: 'N', description: 'show the newest N entries (default 50, at most 1000)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/audit.js')).audit(ctx, { lines: options.lines }),
});
