// deploy accessory logs NAME: an accessory's container logs from the servers it is placed on.

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'logs'],
  summary: "show an accessory's container logs from its servers (each line prefixed by its host)",
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    follow: { type: 'boolean', short: 'f', description: 'keep streaming until interrupted' },
    lines: { type: 'string', short: 'n', value: 'N', description: 'last N lines (default 100, at most 10000)' },
    since: { type: 'string', value: 'WHEN', description: 'only lines since a duration ago (90, 10m, 2h, 1d) or an ISO time' },
    grep: { type: 'string', value: 'REGEX', description: 'only lines matching this regular expression (applied here, not on the servers)' },
  },
  run: async ({ options, positionals, ...ctx }) =>
    (await import('../actions/logs.js')).logs(ctx, { ...options, role: undefined, accessory: positionals[0] as string }),
});
