// deploy details: show per server the release, containers, routes and lock.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['details'],
  summary: 'show per server the release, containers, routes and lock',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/details.js')).details(ctx),
});
