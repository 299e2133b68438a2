// deploy init: a commented starter config/deploy.yml and .kamal/secrets, where
// Kamal puts them. Never overwrites: if any of them exists, nothing is written.

import { constants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConflictError } from '../../shared/errors.js';
import { STARTER_DEPLOY_YML, STARTER_SECRETS } from '../config/starter.js';
import type { RunContext } from '../command.js';

async function exists(path: string): Promise<boolean> {
  return access(path, constants.F_OK).then(
    () => true,
    () => false,
  );
}

export async function init(ctx: RunContext): Promise<void> {
  const cwd = ctx.env.cwd;
  const files = [
    { name: 'config/deploy.yml', text: STARTER_DEPLOY_YML, mode: 0o644 },
    { name: '.kamal/secrets', text: STARTER_SECRETS, mode: 0o600 },
  ];
  const taken = [];
  for (const name of ['deploy.yml', ...files.map((f) => f.name)]) if (await exists(join(cwd, name))) taken.push(name);
  if (taken.length) {
    throw new ConflictError(`${taken.join(' and ')} already exist${taken.length === 1 ? 's' : ''}; deploy init writes nothing over existing files`, 'edit the existing files, or move them away first', 'already_exists');
  }
  for (const file of files) {
    const path = join(cwd, file.name);
    await mkdir(dirname(path), { recursive: true });
    // 'wx': a file that appeared since the check is still not overwritten.
    await writeFile(path, file.text, { flag: 'wx', mode: file.mode });
  }
  if (ctx.json) ctx.printer.json({ written: files.map((f) => f.name) });
  else ctx.printer.out(`wrote ${files.map((f) => f.name).join(' and ')}\nnext: edit config/deploy.yml, then \`deploy server add HOST\` for each server and \`deploy push\``);
}
