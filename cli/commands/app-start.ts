// deploy start (Kamal's `app start`): start what `deploy stop` stopped, wait for its health checks, then route it again.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['start'],
  summary: 'start what `deploy stop` stopped: health-checked, then routed again (a no-op where it runs)',
  positionals: { min: 0, max: 0 },
  options: {
    role: { type: 'string', short: 'r', value: 'ROLES', description: 'only these roles, comma-separated (default: every role)' },
    host: { type: 'string', value: 'HOSTS', description: 'only these servers, comma-separated (default: every server of the roles)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/app-state.js')).switchAppState(ctx, { stop: false, role: options.role, host: options.host }),
});
