// deploy config: print the merged, validated deploy.yml (secrets by name only).

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['config'],
  summary: 'print the merged, validated deploy.yml (secrets by name only)',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/config.js')).showConfig(ctx),
});
