// deploy lock status: show whether the service is locked on every server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['lock', 'status'],
  summary: 'show whether the service is locked on every server',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/lock.js')).lockStatus(ctx),
});
