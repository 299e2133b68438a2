// deploy server add: pin a server: fetch and record its agent id and certificate.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['server', 'add'],
  summary: 'pin a server: fetch and record its agent id and certificate',
  args: 'HOST[:PORT]',
  positionals: { min: 1, max: 1 },
  options: {
    replace: { type: 'boolean', description: 'replace a pin that differs' },
    fingerprint: { type: 'string', value: 'SHA256HEX', description: 'expected certificate fingerprint' },
  },
  run: async ({ options, positionals, ...ctx }) => (await import('../actions/server.js')).serverAdd(ctx, { address: positionals[0] ?? '', replace: options.replace, fingerprint: options.fingerprint }),
});
