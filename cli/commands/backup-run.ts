// deploy backup run NAME: take a backup now on the servers that take it; exits 1 when any did not end ok.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['backup', 'run'],
  summary: 'take a backup now on the servers that take it (or --host); exits 1 unless every run ended ok',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    host: { type: 'string', value: 'HOST', description: 'only on this server' },
  },
  run: async ({ options, positionals, ...ctx }) => (await import('../actions/backup.js')).backupRun(ctx, { name: positionals[0] as string, host: options.host }),
});
