// deploy keys show: print the public key line of the operator key.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['keys', 'show'],
  summary: 'print the public key line of the operator key',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/keys.js')).keysShow(ctx),
});
