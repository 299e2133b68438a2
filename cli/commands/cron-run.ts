// deploy cron run JOB: run a cron job now on the servers that carry it, stream its output, exit with its code.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['cron', 'run'],
  summary: 'run a cron job now on the servers that carry it; exits with its exit code',
  args: 'JOB',
  positionals: { min: 1, max: 1 },
  options: {},
  run: async ({ positionals, ...ctx }) => (await import('../actions/cron-run.js')).cronRun(ctx, { job: positionals[0] as string }),
});
