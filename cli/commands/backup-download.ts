// deploy backup download ID: save one stored backup file here, its SHA-256 checked; needs an admin key.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['backup', 'download'],
  summary: 'save a stored backup file (checksum checked); IDs are per server; needs an admin key',
  args: 'ID',
  positionals: { min: 1, max: 1 },
  options: {
    host: { type: 'string', value: 'HOST', description: 'the server holding it (required with more than one server)' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'where to save it (default: the file name the agent gives, here); never overwritten' },
  },
  run: async ({ options, positionals, ...ctx }) =>
    (await import('../actions/backup-download.js')).backupDownload(ctx, { id: positionals[0] as string, host: options.host, output: options.output }),
});
