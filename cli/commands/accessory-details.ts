// deploy accessory details [NAME|all]: each accessory on each of its servers: image, container, state, port, pending changes.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'details'],
  summary: 'show each accessory on its servers: image, container, state, port, host name, changes a reboot would apply, directories',
  args: '[NAME|all]',
  positionals: { min: 0, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/accessory.js')).accessoryDetails(ctx, { name: positionals[0] }),
});
