// deploy proxy pause: the router holds new requests (up to --timeout seconds each, then 504) until `deploy proxy resume`.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['proxy', 'pause'],
  summary: 'hold new requests (each up to --timeout seconds, then 504) until `deploy proxy resume`',
  positionals: { min: 0, max: 0 },
  options: {
    timeout: { type: 'string', value: 'SECONDS', description: 'how long a held request waits before it gets 504 (default 30, at most 3600)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/proxy-pause.js')).switchPause(ctx, { pause: true, timeout: options.timeout }),
});
