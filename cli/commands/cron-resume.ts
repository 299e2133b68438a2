// deploy cron resume [JOB]: schedule a paused cron job (or all of them) again.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['cron', 'resume'],
  summary: 'schedule a paused cron job (without JOB: every job of the service) again',
  args: '[JOB]',
  positionals: { min: 0, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/cron.js')).cronPause(ctx, { job: positionals[0], paused: false }),
});
