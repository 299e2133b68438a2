// deploy live: end maintenance: serve the app again.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['live'],
  summary: 'end maintenance: serve the app again',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/maintenance.js')).switchMaintenance(ctx, { on: false, message: undefined }),
});
