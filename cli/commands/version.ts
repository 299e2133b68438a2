// deploy version: print the CLI version.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['version'],
  summary: 'print the CLI version',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/version.js')).version(ctx),
});
