// Where the agent keeps an accessory's files and named directories on the
// host: <state-dir>/accessories/<service>[@<destination>]/<accessory>/files/…
// and …/dirs/<name>. Containers get only the leaves (one file, one dirs/<name>)
// bind-mounted, never a directory above one, so nothing a container does can
// put a symlink on the way; every level is still lstat-checked here, and the
// bind guard judges the result again (agent/engine/bind-guard.ts).
import { randomBytes } from 'node:crypto';
import { chown, lstat, mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { UserError } from '../../shared/errors.js';
import type { AccessorySpec } from '../../shared/manifest.js';
import { dirHostPath, fileHostPath } from '../core/accessories.js';

/** What preparing did that the caller should report (a chown the agent was not permitted to do). */
export interface PrepareNotes {
  notes: string[];
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** mkdir -p of `path` below `from` (which must exist), refusing anything on the way that is not a real directory. */
async function realDirectories(from: string, path: string, mode: number): Promise<void> {
  const rest = posix.relative(from, path);
  if (rest.startsWith('..')) throw new Error(`internal: ${path} is not below ${from}`);
  let at = from;
  for (const part of rest === '' ? [] : rest.split('/')) {
    at = posix.join(at, part);
    const st = await lstatOrUndefined(at);
    if (st === undefined) {
      await mkdir(at, { mode }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      continue;
    }
    if (!st.isDirectory() || st.isSymbolicLink()) {
      throw new UserError(`${at} is not a directory (${st.isSymbolicLink() ? 'a symlink' : 'a file'}); the agent keeps accessory data there`, 'remove it on the host, then try again');
    }
  }
}

/** The accessory's own directory, created under an existing state dir. */
export async function ensureBase(stateDir: string, base: string): Promise<void> {
  await realDirectories(stateDir, base, 0o700);
}

/** Owner `UID[:GID]`; a GID-less owner keeps the file's group as chown(1) does. */
function parseOwner(owner: string): { uid: number; gid: number } {
  const [uid = '0', gid] = owner.split(':');
  return { uid: Number(uid), gid: gid === undefined ? -1 : Number(gid) };
}

/** Writes one file atomically (temp + fsync + rename) with its mode and owner. */
async function writeFileAtomic(path: string, content: string, mode: number, owner: string | undefined, notes: string[]): Promise<void> {
  const existing = await lstatOrUndefined(path);
  // Docker makes a missing bind source a directory: an empty one left from that goes.
  if (existing?.isDirectory()) await rmdir(path);
  else if (existing?.isSymbolicLink()) throw new UserError(`${path} is a symlink; the agent keeps an accessory file there`, 'remove it on the host, then try again');
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode); // the umask narrowed open's mode
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (owner !== undefined) {
      const { uid, gid } = parseOwner(owner);
      try {
        await chown(temp, uid, gid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
        notes.push(`file ${path}: owner ${owner} not set (the agent is not permitted to chown; it runs as root in production)`);
      }
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * Writes the accessory's files (`contents`: unsealed, by target) and creates
 * its named directories (0755). Data already in a directory is kept.
 */
export async function prepareAccessoryData(stateDir: string, base: string, spec: AccessorySpec, contents: Record<string, string>): Promise<PrepareNotes> {
  await ensureBase(stateDir, base);
  const notes: string[] = [];
  for (const file of spec.files) {
    const path = fileHostPath(base, file.target);
    await realDirectories(base, posix.dirname(path), 0o755);
    await writeFileAtomic(path, contents[file.target] ?? '', parseInt(file.mode, 8), file.owner, notes);
  }
  for (const d of spec.directories) {
    if (d.source.startsWith('/')) continue; // an absolute host path is the operator's, judged as a bind
    await realDirectories(base, dirHostPath(base, d.source), 0o755);
  }
  return { notes };
}

/** Deletes what the agent keeps for the accessory (never an absolute host directory it mounts); the paths deleted. */
export async function purgeAccessoryData(base: string, spec: AccessorySpec | undefined): Promise<string[]> {
  const st = await lstatOrUndefined(base);
  if (st === undefined) return [];
  if (!st.isDirectory()) throw new UserError(`${base} is not a directory; nothing purged`, 'remove it on the host');
  const kept = [
    ...(spec?.directories ?? []).filter((d) => !d.source.startsWith('/')).map((d) => dirHostPath(base, d.source)),
    ...((spec?.files.length ?? 0) > 0 ? [posix.join(base, 'files')] : []),
  ];
  const purged: string[] = [];
  for (const path of kept) if (await lstatOrUndefined(path)) purged.push(path);
  // The whole base: directories of names a former release used go too.
  await rm(base, { recursive: true, force: true });
  return purged;
}
