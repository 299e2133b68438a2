// deploy logs: show the container logs of every server (each line prefixed by its host).

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['logs'],
  summary: 'show the container logs of every server (each line prefixed by its host)',
  positionals: { min: 0, max: 0 },
  options: {
    role: { type: 'string', short: 'r', value: 'ROLE', description: 'only this role (and its servers)' },
    follow: { type: 'boolean', short: 'f', description: 'keep streaming, across deploys, until interrupted' },
    lines: { type: 'string', short: 'n', value: 'N', description: 'last N lines per container (default 100, at most 10000)' },
    since: { type: 'string', value: 'WHEN', description: 'only lines since a duration ago (90, 10m, 2h, 1d) or an ISO time' },
    grep: { type: 'string', value: 'REGEX', description: 'only lines matching this regular expression (applied here, not on the servers)' },
  },
  run: async ({ options, ...ctx }) => (await import('../actions/logs.js')).logs(ctx, options),
});
