// deploy stop (Kamal's `app stop`): stop the live release's containers and take their routes off the router, until `deploy start` or a deploy.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['stop'],
  summary: 'stop the live release and take it off the router (its hosts answer as unrouted ones) until `deploy start` or a deploy',
  positionals: { min: 0, max: 0 },
  options: {
    role: { type: 'string', short: 'r', value: 'ROLES', description: 'only these roles, comma-separated (default: every role)' },
    host: { type: 'string', value: 'HOSTS', description: 'only these servers, comma-separated (default: every server of the roles)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/app-state.js')).switchAppState(ctx, { stop: true, role: options.role, host: options.host }),
});
