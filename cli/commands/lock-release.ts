// deploy lock release: release the lock on every server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['lock', 'release'],
  summary: 'release the lock on every server',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/lock.js')).lockRelease(ctx),
});
