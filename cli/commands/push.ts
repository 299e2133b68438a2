// deploy push: deploy the image to every server.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['push'],
  aliases: [['deploy']],
  summary: 'deploy the image to every server',
  positionals: { min: 0, max: 0 },
  options: {
    version: { type: 'string', value: 'VERSION', description: 'release name, and the image tag when image: has none, as in Kamal (default: $VERSION, else git HEAD)' },
    'trust-new': { type: 'boolean', description: 'pin servers seen for the first time' },
    'lock-wait': { type: 'string', value: 'SECONDS', description: 'when the service is locked on a server, retry until this many seconds passed' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/push.js')).push(ctx, { version: options.version, trustNew: options['trust-new'], lockWait: options['lock-wait'] }),
});
