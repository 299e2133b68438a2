// deploy keys new: create an operator key and print its public key line.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['keys', 'new'],
  summary: 'create an operator key and print its public key line',
  positionals: { min: 0, max: 0 },
  options: {
    comment: { type: 'string', value: 'TEXT', description: 'comment on the public key line (default user@hostname)' },
    force: { type: 'boolean', description: 'overwrite an existing key file' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/keys.js')).keysNew(ctx, { comment: options.comment, force: options.force }),
});
