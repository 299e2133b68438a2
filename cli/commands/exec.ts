// deploy exec: run a command in a new container of the current release (needs an admin key).

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['exec'],
  summary: 'run a command in a new container of the current release (needs an admin key)',
  args: '[--] CMD...',
  positionals: { min: 1, max: 64 },
  options: {
    role: { type: 'string', short: 'r', value: 'ROLE', description: 'the role to run as (default: the primary role)' },
    reuse: { type: 'boolean', description: 'run in the running container instead of a new one' },
    interactive: { type: 'boolean', short: 'i', description: 'interactive, on one server (a TTY when this terminal is one)' },
    host: { type: 'string', value: 'HOST', description: 'only this server (default for -i: the first server of the role)' },
    primary: { type: 'boolean', description: "only the role's first server (Kamal's -p)" },
  },
  run: async ({ options, positionals, ...ctx }) => (await import('../actions/exec.js')).exec(ctx, { cmd: positionals, ...options }),
});
