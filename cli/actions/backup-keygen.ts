// deploy backup keygen: a new age identity for encrypted backups. The file
// (0600, never overwritten) stays with the operator; its recipient, a public
// key, goes into deploy.yml, so agents encrypt to it and cannot decrypt.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { newIdentity } from '../../shared/age.js';
import { UserError } from '../../shared/errors.js';
import type { RunContext } from '../command.js';
import type { CliEnv } from '../env.js';

/** Where restore finds the identity file when --identity is not given. */
export const IDENTITY_ENV = 'BERTH_BACKUP_IDENTITY';

export function defaultIdentityPath(env: CliEnv): string {
  return join(env.xdgConfigHome ?? join(env.home, '.config'), 'berth', 'backup-identity.txt');
}

export async function backupKeygen(ctx: RunContext, options: { output: string | undefined }): Promise<void> {
  const path = resolve(ctx.env.cwd, options.output ?? defaultIdentityPath(ctx.env));
  const { identityFile, recipient } = await newIdentity();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, identityFile, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UserError(`${path} exists; not overwritten (it may be the only key to existing backups)`, 'name another file with -o', 'usage');
    throw new UserError(`cannot write ${path}: ${(err as Error).message}`);
  }
  if (ctx.json) return ctx.printer.json({ identity: path, recipient });
  ctx.printer.err(`wrote ${path} (keep it safe and away from the servers: without it encrypted backups cannot be restored)`);
  ctx.printer.err(`restore with --identity ${path} (or ${IDENTITY_ENV}=${path}); put this line in the backup in deploy.yml:`);
  ctx.printer.out(`recipient: ${recipient}`);
}
