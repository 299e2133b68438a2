// deploy cron history JOB: show a cron job's recent runs on each server, newest first.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['cron', 'history'],
  summary: "show a cron job's recent runs on each server, newest first",
  args: 'JOB',
  positionals: { min: 1, max: 1 },
  options: {
    lines: { type: 'string', short: 'n', value: 'N', description: 'show the newest N runs per server (default 20, at most 200)' },
    output: { type: 'boolean', description: "show each run's output (its last 64 KiB) under its row" },
  },
  run: async ({ options, positionals, ...ctx }) =>
    (await import('../actions/cron.js')).cronHistory(ctx, { job: positionals[0] as string, lines: options.lines, output: options.output }),
});
