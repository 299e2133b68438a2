// deploy server list: list pinned servers.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['server', 'list'],
  summary: 'list pinned servers',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/server.js')).serverList(ctx),
});
