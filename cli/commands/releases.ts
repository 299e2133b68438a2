// deploy releases: list the releases on every server (image, when, key, status).

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['releases'],
  summary: 'list the releases on every server (image, when, key, status)',
  positionals: { min: 0, max: 0 },
  options: {},
  run: async (ctx) => (await import('../actions/releases.js')).releases(ctx),
});
