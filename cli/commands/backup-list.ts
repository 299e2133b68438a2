// deploy backup list [NAME]: each server's backups (schedule, next run, newest good) and their records, newest first.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['backup', 'list'],
  summary: "show each server's backups: schedules, next runs and the backups taken, newest first",
  args: '[NAME]',
  positionals: { min: 0, max: 1 },
  options: {
    limit: { type: 'string', value: 'N', description: 'show the newest N backups per server (default 20, at most 500)' },
  },
  run: async ({ options, positionals, ...ctx }) => (await import('../actions/backup.js')).backupList(ctx, { name: positionals[0], limit: options.limit }),
});
