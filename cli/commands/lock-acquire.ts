// deploy lock acquire: lock the service on every server: deploys are refused until released.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['lock', 'acquire'],
  summary: 'lock the service on every server: deploys are refused until released',
  positionals: { min: 0, max: 0 },
  options: {
    message: { type: 'string', short: 'm', value: 'MSG', description: 'why (required; shown to whoever tries to deploy)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/lock.js')).lockAcquire(ctx, { message: options.message }),
});
