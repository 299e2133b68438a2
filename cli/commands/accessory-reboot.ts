// deploy accessory reboot NAME|all: replace an accessory's container with the current release's spec (data kept); asks first.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'reboot'],
  summary: "replace an accessory's container with the current release's spec (data kept); asks first",
  args: 'NAME|all',
  positionals: { min: 1, max: 1 },
  options: {
    confirmed: { type: 'boolean', short: 'y', description: 'do not ask; required when not on a terminal' },
  },
  run: async ({ options, positionals, ...ctx }) => (await import('../actions/accessory.js')).accessoryAction(ctx, { action: 'reboot', name: positionals[0] as string, confirmed: options.confirmed }),
});
