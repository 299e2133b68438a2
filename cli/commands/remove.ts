// deploy remove: remove the service (its containers and routes) from every server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['remove'],
  summary: 'remove the service (its containers and routes) from every server',
  positionals: { min: 0, max: 0 },
  options: {
    confirmed: { type: 'boolean', short: 'y', description: 'do not ask; required when not on a terminal' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/remove.js')).remove(ctx, { confirmed: options.confirmed }),
});
