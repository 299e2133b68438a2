// The release name: --version (or Kamal's VERSION variable, see cli/image-version.ts), else the app's git HEAD like Kamal (full SHA),
// marked `_uncommitted_<hex>` when the working tree has changes.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { UserError } from '../shared/errors.js';

const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function git(appDir: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['-C', appDir, ...args], { timeout: 10_000, maxBuffer: 1024 * 1024 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

export function checkVersion(version: string): string {
  if (!VERSION.test(version)) {
    throw new UserError(`"${version.slice(0, 140)}" is not a valid version`, 'use 1-128 of A-Z a-z 0-9 _ . - starting with a letter or digit', 'usage');
  }
  return version;
}

export async function releaseVersion(appDir: string, flag: string | undefined): Promise<string> {
  if (flag !== undefined) return checkVersion(flag);
  const head = (await git(appDir, ['rev-parse', 'HEAD']))?.trim();
  if (!head || !/^[0-9a-f]{40,64}$/.test(head)) {
    throw new UserError(`cannot name the release: ${appDir} is not a git repository with a commit`, 'pass --version VERSION', 'usage');
  }
  const status = await git(appDir, ['status', '--porcelain']);
  const dirty = status === undefined || status.trim() !== '';
  return dirty ? `${head}_uncommitted_${randomBytes(8).toString('hex')}` : head;
}
