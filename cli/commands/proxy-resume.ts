// deploy proxy resume: end a pause; held requests go to the service's current release.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['proxy', 'resume'],
  summary: 'end a pause: held and new requests go to the current release',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/proxy-pause.js')).switchPause(ctx, { pause: false, timeout: undefined }),
});
