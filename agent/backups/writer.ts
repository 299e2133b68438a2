// Writing one backup file, so that a file under its final name is always a
// whole, checked one. The raw bytes are counted, compressed and hashed on
// their way into a 0600 temp file beside the final one (opened exclusively),
// which is fsynced. An encrypted backup is then encrypted from that temp into
// a second temp (fsynced, hashed again) and the plaintext temp deleted. Only
// then is it renamed to its final name, the directory fsynced, and the file
// read back from disk: its SHA-256 must be the one computed while writing.
// Any failure leaves no temp file behind, and never touches another backup.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Transform, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encryptStream } from '../../shared/age.js';
import { hashing } from '../../shared/hash-stream.js';
import type { BackupCompression } from '../../shared/manifest-backups.js';
import type { BackupRunEnd } from '../store/backups-repo.js';
import { tempFileName } from '../core/backups/naming.js';
import { compressStream } from './compression.js';
import { hashFile } from './file-hash.js';
import type { BackupSource } from './sources.js';

export interface WriteRequest {
  /** The backup's directory (created 0700 when missing). */
  dir: string;
  /** The final file name (agent/core/backups/naming.ts backupFileName). */
  name: string;
  id: number;
  compression: BackupCompression;
  recipient?: string | undefined;
  minSize: number;
  /** What an empty source is called in the reason: `the dump` or `the archive of volume data`. */
  what: string;
  source: BackupSource;
  /** Aborted on timeout or shutdown; its reason (an Error) is the run's reason. */
  signal: AbortSignal;
  /** Runs on the complete compressed plaintext temp file (before encryption). */
  verify?: ((plainFile: string) => Promise<{ passed: boolean; output: string }>) | undefined;
}

export type WriteResult = Omit<BackupRunEnd, 'audit'>;

/** A stage of a write pipeline failed: its reason is already worded for the operator. */
class StageFailure extends Error {}

function diskProblem(dir: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return `the disk is full at ${dir}`;
  return `writing the backup at ${dir} failed: ${e.code ?? e.message}`;
}

/** Writes every byte of `chunk` at the handle's position (a short write is not an error for write(2)). */
async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
}

/**
 * Pipes `stages` into a new 0600 file at `path` (which must not exist),
 * fsyncs and closes it; resolves with the SHA-256 and size of what was
 * written. The first stage that fails names the reason.
 */
async function writeFile(path: string, dir: string, stages: NodeJS.ReadableStream[], explain: (stage: number, err: unknown) => string, signal: AbortSignal): Promise<{ sha256: string; size: number }> {
  const handle = await open(path, 'wx', 0o600).catch((e: unknown) => {
    throw new StageFailure(diskProblem(dir, e));
  });
  const hasher = hashing();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      writeAll(handle, chunk).then(() => done(), done);
    },
  });
  let first: { stage: number; err: unknown } | undefined;
  const all = [...stages, hasher.stream, sink] as unknown as Duplex[];
  all.forEach((s, stage) => s.on('error', (err: unknown) => (first ??= { stage, err })));
  try {
    try {
      await pipeline(all, { signal });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const f = first ?? { stage: 0, err };
      throw new StageFailure(f.stage >= stages.length ? diskProblem(dir, f.err) : explain(f.stage, f.err));
    }
    await handle.sync().catch((e: unknown) => {
      throw new StageFailure(diskProblem(dir, e));
    });
  } finally {
    await handle.close().catch(() => undefined);
  }
  return { sha256: hasher.digest().toString('hex'), size: hasher.size() };
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function writeBackup(req: WriteRequest): Promise<WriteResult> {
  const temps = new Set<string>();
  let rawSize: number | null = null;
  const failed = (reason: string, more: Partial<WriteResult> = {}): WriteResult => ({
    outcome: 'failed', reason, file: null, size: null, rawSize, sha256: null, plainSha256: null, verify: null, verifyOutput: '', ...more,
  });
  try {
    await mkdir(req.dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
      throw new StageFailure(diskProblem(req.dir, e));
    });
    const random = randomBytes(6).toString('hex');
    const plain = tempFileName(req.dir, req.id, random, 'plain');
    temps.add(plain);
    let raw = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        raw += chunk.length;
        done(null, chunk);
      },
    });
    const compressed = await writeFile(plain, req.dir, [req.source.stream, counter, compressStream(req.compression)], (stage, err) =>
      stage === 0 ? req.source.explain(err) : `${req.compression} compression failed: ${messageOf(err)}`, req.signal);
    rawSize = raw;
    const sourceFailure = await req.source.end();
    if (sourceFailure !== undefined) return failed(sourceFailure);
    if (raw === 0) return failed(`${req.what} wrote nothing`);
    if (raw < req.minSize) return failed(`${req.what} wrote ${raw} bytes, less than min_size (${req.minSize})`);

    const checked = req.verify
      ? await req.verify(plain).catch((e: unknown) => ({ passed: false, output: `the verify could not run: ${messageOf(e)}` }))
      : undefined;
    let stored = { path: plain, ...compressed };
    if (req.recipient !== undefined) {
      const sealed = tempFileName(req.dir, req.id, random, 'age');
      temps.add(sealed);
      const enc = await writeFile(sealed, req.dir, [createReadStream(plain), encryptStream(req.recipient)], (stage, err) =>
        stage === 0 ? `reading ${plain} back failed: ${messageOf(err)}` : `encryption failed: ${messageOf(err)}`, req.signal);
      await rm(plain, { force: true });
      temps.delete(plain);
      stored = { path: sealed, ...enc };
    }
    const file = posix.join(req.dir, req.name);
    await rename(stored.path, file);
    temps.delete(stored.path);
    await syncDir(req.dir).catch((e: unknown) => {
      throw new StageFailure(diskProblem(req.dir, e));
    });
    const onDisk = await hashFile(file);
    if (onDisk.sha256 !== stored.sha256 || onDisk.size !== stored.size) {
      await rm(file, { force: true });
      return failed(`the file read back from ${req.dir} differs from what was written (sha256 ${onDisk.sha256.slice(0, 12)}…, expected ${stored.sha256.slice(0, 12)}…); the disk may be failing`);
    }
    const measured = { file, size: stored.size, rawSize: raw, sha256: stored.sha256, plainSha256: compressed.sha256 };
    if (checked && !checked.passed) {
      // Kept, so it can be looked at; a failed row never counts as a good backup.
      const why = req.signal.aborted ? messageOf(req.signal.reason) : 'the verify command failed on the restored dump';
      return { ...measured, outcome: 'failed', reason: why, verify: 'failed', verifyOutput: checked.output };
    }
    return { ...measured, outcome: 'ok', reason: '', verify: checked ? 'passed' : null, verifyOutput: checked?.output ?? '' };
  } catch (err) {
    if (req.signal.aborted) return failed(messageOf(req.signal.reason));
    if (err instanceof StageFailure) return failed(err.message);
    return failed(`the backup failed: ${messageOf(err)}`);
  } finally {
    for (const t of temps) await rm(t, { force: true }).catch(() => undefined);
  }
}
