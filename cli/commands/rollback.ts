// deploy rollback: go back to the previous release (or RELEASE) on every server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['rollback'],
  summary: 'go back to the previous release (or RELEASE) on every server',
  args: '[RELEASE]',
  positionals: { min: 0, max: 1 },
  options: {
    'lock-wait': { type: 'string', value: 'SECONDS', description: 'when the service is locked on a server, retry until this many seconds passed' },
  },
  run: async ({ options, positionals, ...ctx }) => (await import('../actions/rollback.js')).rollback(ctx, { release: positionals[0], lockWait: options['lock-wait'] }),
});
