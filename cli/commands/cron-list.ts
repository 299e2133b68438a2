// deploy cron list: show every server's cron jobs: schedule, next run, last result.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['cron', 'list'],
  summary: "show every server's cron jobs: schedule, next run, last result and duration",
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/cron.js')).cronList(ctx),
});
