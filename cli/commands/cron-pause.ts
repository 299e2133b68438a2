// deploy cron pause [JOB]: stop scheduling one cron job (or all of them) until resumed.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['cron', 'pause'],
  summary: 'stop scheduling a cron job (without JOB: every job of the service) until resumed',
  args: '[JOB]',
  positionals: { min: 0, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/cron.js')).cronPause(ctx, { job: positionals[0], paused: true }),
});
