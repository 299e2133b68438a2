#!/usr/bin/env node
// The router's own bundle (dist/bin/berth-router.js): `berth-agent router`
// loads this instead of the whole agent (scripts/postbuild.mjs), so the router
// process holds no Docker, database or API code: about 20 MiB less resident
// memory for a process that runs for months.
import { exitWith } from '../command-exit.js';
import { parseAgentArgs } from '../cli.js';
import { routerMain } from './main.js';

async function main(argv: string[]): Promise<number> {
  const command = parseAgentArgs(argv);
  if (command.cmd === 'help') {
    process.stdout.write(command.text);
    return 0;
  }
  if (command.cmd !== 'router') throw new Error(`the router bundle runs only \`router\`, not \`${command.cmd}\``);
  await routerMain(command.argv);
  return 0;
}

exitWith(main(process.argv.slice(2)));
