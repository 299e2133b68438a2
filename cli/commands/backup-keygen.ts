// deploy backup keygen: write a new age identity file for encrypted backups and print its recipient line.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['backup', 'keygen'],
  summary: 'write a new age identity file (0600) for encrypted backups and print the recipient line for deploy.yml',
  positionals: { min: 0, max: 0 },
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'where to write it (default ~/.config/berth/backup-identity.txt); never overwritten' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/backup-keygen.js')).backupKeygen(ctx, { output: options.output }),
});
