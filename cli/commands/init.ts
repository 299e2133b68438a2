// deploy init: write a starter config/deploy.yml and .kamal/secrets.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['init'],
  summary: 'write a starter config/deploy.yml and .kamal/secrets',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/init.js')).init(ctx),
});
