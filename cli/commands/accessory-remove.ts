// deploy accessory remove NAME|all: remove an accessory's container (with --purge its kept directories too); needs an admin key.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'remove'],
  summary: "remove an accessory's container from its servers (--purge: and its kept directories); asks first; needs an admin key",
  args: 'NAME|all',
  positionals: { min: 1, max: 1 },
  options: {
    purge: { type: 'boolean', description: 'also delete the directories the agent keeps for it (its data)' },
    confirmed: { type: 'boolean', short: 'y', description: 'do not ask; required when not on a terminal' },
  },
  run: async ({ options, positionals, ...ctx }) =>
    (await import('../actions/accessory.js')).accessoryRemove(ctx, { name: positionals[0] as string, purge: options.purge, confirmed: options.confirmed }),
});
