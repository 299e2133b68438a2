// The file work of asset bridging: copying a directory out of an image (as
// Kamal's `docker container cp -L`) and merging one directory into another
// without overwriting (as its `cp -rnT`). Only regular files and directories
// are written; links and special files in the image are skipped and counted.
// Every directory written here is the agent's own: no container can write
// them (volumes are mounted read-only), and files are created with O_EXCL, so
// nothing is written through a symlink.
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../../shared/errors.js';
import { readTarEntries } from '../backups/tar.js';

/** A bound on what one release's assets may take on the host. */
export const MAX_ASSET_BYTES = 2 * 1024 ** 3;
export const MAX_ASSET_ENTRIES = 200_000;

export interface ExtractResult {
  files: number;
  bytes: number;
  /** Symlinks, hard links and special files left out. */
  skipped: number;
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

// Modes set explicitly: the agent's umask (0077 under systemd) would leave the
// files unreadable to an app that runs as a user other than root.
async function makeDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o755 });
  await chmod(path, 0o755);
}

/**
 * Unpacks `archive` (Docker's archive of `DIR/.`, entries relative to DIR)
 * into `dest`, which must not exist: it is written beside it and renamed into
 * place, so a crash never leaves a half-extracted directory behind that name.
 */
export async function extractInto(archive: NodeJS.ReadableStream, dest: string, what: string): Promise<ExtractResult> {
  const tmp = posix.join(posix.dirname(dest), `.${posix.basename(dest)}.${randomBytes(4).toString('hex')}.tmp`);
  await makeDir(posix.dirname(dest));
  await mkdir(tmp, { mode: 0o755 });
  await chmod(tmp, 0o755);
  const result: ExtractResult = { files: 0, bytes: 0, skipped: 0 };
  let entries = 0;
  try {
    await readTarEntries(archive, async (entry, data) => {
      if (++entries > MAX_ASSET_ENTRIES) throw new UserError(`${what} holds more than ${MAX_ASSET_ENTRIES} entries`, 'point asset_path at the fingerprinted assets only');
      const rel = entryPath(entry.name);
      if (rel === undefined || (entry.type !== 'file' && entry.type !== 'contiguous-file' && entry.type !== 'directory')) {
        if (rel !== '.') result.skipped += 1;
        data.resume();
        return;
      }
      const target = posix.join(tmp, rel);
      if (entry.type === 'directory') {
        data.resume();
        if (rel !== '.') await makeDir(target);
        return;
      }
      result.bytes += entry.size;
      if (result.bytes > MAX_ASSET_BYTES) throw new UserError(`${what} is larger than ${MAX_ASSET_BYTES} bytes`, 'point asset_path at the fingerprinted assets only');
      await makeDir(posix.dirname(target));
      await pipeline(data, createWriteStream(target, { flags: 'wx', mode: 0o644 }));
      await chmod(target, 0o644);
      result.files += 1;
    });
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return result;
}

/** The entry's path below the root, normalized; undefined for names that would leave it. */
function entryPath(name: string): string | undefined {
  if (name.includes('\0') || name.startsWith('/') || name.split('/').includes('..')) return undefined;
  const p = posix.normalize(name).replace(/\/+$/, '') || '.';
  return p === '..' || p.startsWith('../') || p.startsWith('/') ? undefined : p;
}

/**
 * Copies what `from` holds into `to`, leaving every file `to` already has
 * (Kamal's `cp -rnT`). Returns how many files were added. A missing `from` adds nothing.
 */
export async function mergeMissing(from: string, to: string): Promise<number> {
  if (!(await exists(from))) return 0;
  await makeDir(to);
  let added = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = posix.join(from, entry.name);
    const dst = posix.join(to, entry.name);
    if (entry.isDirectory()) {
      const st = await lstat(dst).catch(() => undefined);
      if (st && !st.isDirectory()) continue;
      added += await mergeMissing(src, dst);
    } else if (entry.isFile()) {
      try {
        await copyFile(src, dst, constants.COPYFILE_EXCL);
        await chmod(dst, 0o644);
        added += 1;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }
  return added;
}

export { exists as pathExists };
