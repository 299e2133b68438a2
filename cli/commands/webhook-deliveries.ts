// deploy webhook deliveries: show the webhook deliveries each server received for the service and what became of them.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['webhook', 'deliveries'],
  summary: 'show the webhook deliveries each server received and what became of them',
  positionals: { min: 0, max: 0 },
  options: {
    lines: { type: 'string', short: 'n', value: 'N', description: 'show the newest N deliveries per server (default 20, at most 200)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/webhook-deliveries.js')).webhookDeliveries(ctx, { lines: options.lines }),
});
