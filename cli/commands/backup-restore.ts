// deploy backup restore NAME [ID]: replace the data with a backup (default the newest good one); asks first; needs an admin key.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['backup', 'restore'],
  summary: 'replace the data with a backup (default the newest good one); asks first; needs an admin key',
  args: 'NAME [ID]',
  positionals: { min: 1, max: 2 },
  options: {
    host: { type: 'string', value: 'HOST', description: 'only on this server (required with an ID when several servers take the backup)' },
    confirmed: { type: 'boolean', short: 'y', description: 'do not ask; required when not on a terminal' },
    identity: { type: 'string', value: 'FILE', description: 'age identity file for an encrypted backup (default: $BERTH_BACKUP_IDENTITY)' },
  },
  run: async ({ options, positionals, ...ctx }) =>
    (await import('../actions/backup-restore.js')).backupRestore(ctx, {
      name: positionals[0] as string, id: positionals[1], host: options.host, confirmed: options.confirmed, identity: options.identity,
    }),
});
