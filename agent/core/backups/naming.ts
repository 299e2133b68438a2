// PURE: where a backup's files live and what they are called. Each backup has
// its own directory `<root>/<service>[-<destination>]/<backup>/` under one of
// the agent's backup roots (--backup-dir), and each run one file
// `<backup>-<id>-<UTC yyyymmddThhmmssZ>.<tar|dump>.<zst|gz>[.age]`. Temp files
// start with `.tmp-` so a restart can tell them from finished ones.
import { posix } from 'node:path';
import type { BackupCompression, BackupKind, BackupSpec } from '../../../shared/manifest-backups.js';

export const TEMP_PREFIX = '.tmp-';

/** `20261205T065840Z`: sorts as it reads, and needs no quoting in any shell. */
export function utcStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function backupFileName(f: { backup: string; id: number; startedAt: number; kind: BackupKind; compression: BackupCompression; encrypted: boolean }): string {
  const format = f.kind === 'accessory' ? 'dump' : 'tar';
  return `${f.backup}-${f.id}-${utcStamp(f.startedAt)}.${format}.${f.compression === 'zstd' ? 'zst' : 'gz'}${f.encrypted ? '.age' : ''}`;
}

/**
 * An upload restore's body (the decrypted plaintext of an encrypted backup)
 * in `dir`: a temp name too, so the sweep at start removes one a crash left.
 */
export function uploadTempName(dir: string, id: number, random: string): string {
  return posix.join(dir, `${TEMP_PREFIX}restore-${id}-${random}.upload`);
}

/** A temp file of run `id` in `dir` (`random`: hex, so two attempts never collide). */
export function tempFileName(dir: string, id: number, random: string, stage: 'plain' | 'age'): string {
  return posix.join(dir, `${TEMP_PREFIX}${id}-${random}${stage === 'age' ? '.age' : ''}`);
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

export type BackupDir = { dir: string; root: string } | { problem: string };

/**
 * The directory a backup's files go to: its `path` (which must lie inside one
 * of `roots`) or the first root, then `<service>[-<destination>]/<backup>`.
 * Names cannot hold "/" or "..", so the result stays below the root.
 */
export function backupDir(roots: readonly string[], ref: { service: string; destination: string; backup: string }, spec: Pick<BackupSpec, 'path'>): BackupDir {
  const first = roots[0];
  if (first === undefined) return { problem: 'this agent has no backup directory (berth-agent run --backup-dir)' };
  const base = spec.path === undefined ? first : posix.normalize(spec.path);
  const root = roots.find((r) => inside(base, r));
  if (root === undefined) {
    return { problem: `path ${spec.path} is outside this agent's backup directories (${roots.join(', ')}); berth-agent run --backup-dir adds one` };
  }
  return { root, dir: posix.join(base, ref.destination ? `${ref.service}-${ref.destination}` : ref.service, ref.backup) };
}
