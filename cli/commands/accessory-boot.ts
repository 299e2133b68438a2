// deploy accessory boot NAME|all: create and start an accessory (NAME, or all) from the current release where it is missing.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'boot'],
  summary: "create and start an accessory (NAME, or all) from the current release where it is missing",
  args: 'NAME|all',
  positionals: { min: 1, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/accessory.js')).accessoryAction(ctx, { action: 'boot', name: positionals[0] as string, confirmed: false }),
});
