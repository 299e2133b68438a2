// deploy maintenance: answer every request with 503 and a message (the health check path still reaches the app).

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['maintenance'],
  summary: 'answer every request with 503 and a message (the health check path still reaches the app)',
  positionals: { min: 0, max: 0 },
  options: {
    message: { type: 'string', short: 'm', value: 'TEXT', description: 'what visitors see (default: "This service is down for maintenance.")' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/maintenance.js')).switchMaintenance(ctx, { on: true, message: options.message }),
});
