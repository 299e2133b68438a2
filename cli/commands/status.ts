// deploy status: show what runs on every server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['status'],
  summary: 'show what runs on every server',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/status.js')).status(ctx),
});
