// deploy accessory exec NAME -- CMD...: run a command in an accessory's running container (needs an admin key).

import { defineCommand } from '../command.js';

export default defineCommand({
  path: ['accessory', 'exec'],
  summary: "run a command in an accessory's running container on its servers (needs an admin key)",
  args: 'NAME [--] CMD...',
  positionals: { min: 2, max: 65 },
  options: {
    interactive: { type: 'boolean', short: 'i', description: 'interactive, on one server (a TTY when this terminal is one)' },
    host: { type: 'string', value: 'HOST', description: "only this server (default for -i: the accessory's first server)" },
  },
  run: async ({ options, positionals: [name, ...cmd], ...ctx }) =>
    (await import('../actions/exec.js')).exec(ctx, { cmd, role: undefined, reuse: false, ...options, accessory: name as string }),
});
