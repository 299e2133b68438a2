// deploy accessory start NAME|all: start an accessory's stopped container (NAME, or all) on its servers.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'start'],
  summary: "start an accessory's stopped container (NAME, or all) on its servers",
  args: 'NAME|all',
  positionals: { min: 1, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/accessory.js')).accessoryAction(ctx, { action: 'start', name: positionals[0] as string, confirmed: false }),
});
