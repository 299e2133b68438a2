// deploy webhook url: print where registries deliver tag pushes, per server and source.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['webhook', 'url'],
  summary: 'print the webhook URLs (they are credentials) for every server and source',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/webhook-url.js')).webhookUrl(ctx),
});
