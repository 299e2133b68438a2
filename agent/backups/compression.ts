// The two compressions a backup file may have, as Node streams: gzip from
// node:zlib, zstd from the host's `zstd` program (Node 20 has no zstd and the
// native bindings would need a compiler on every server; install.sh installs
// the Debian package). A zstd that exits non-zero fails the stream, and its
// output ends only after it exited 0, so a pipeline never takes a cut-short
// stream for a whole one.
import { spawn } from 'node:child_process';
import { Duplex, PassThrough } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { BackupCompression } from '../../shared/manifest-backups.js';

const ZSTD_LEVEL = 3;
const STDERR_KEEP = 2048;

/** The file name ending of a backup file: `.zst` or `.gz` (then `.age` when encrypted). */
export function compressionSuffix(kind: BackupCompression): string {
  return kind === 'zstd' ? '.zst' : '.gz';
}

/** What the first bytes of a stored file say it is (checked against the record before a restore reads it). */
export function sniffFormat(head: Uint8Array): 'zstd' | 'gzip' | 'age' | 'unknown' {
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (Buffer.from(head.subarray(0, 21)).toString('latin1') === 'age-encryption.org/v1') return 'age';
  return 'unknown';
}

export function compressStream(kind: BackupCompression): Duplex {
  return kind === 'gzip' ? createGzip() : zstdProcess([`-${ZSTD_LEVEL}`, '-q', '-c']);
}

export function decompressStream(kind: BackupCompression): Duplex {
  return kind === 'gzip' ? createGunzip() : zstdProcess(['-d', '-q', '-c']);
}

function zstdProcess(args: string[]): Duplex {
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  let failed: Error | undefined;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_KEEP) stderr += text.slice(0, STDERR_KEEP - stderr.length);
  });
  child.stdout.pipe(out, { end: false });
  // The program's exit decides: a write after it died (EPIPE) is reported by its code.
  child.stdin.on('error', () => undefined);
  child.on('error', (err) => {
    failed = new Error(err.message.includes('ENOENT') ? 'zstd is not installed on this server (apt-get install zstd)' : `zstd: ${err.message}`);
    out.destroy(failed);
  });
  child.on('close', (code, signal) => {
    if (failed) return;
    if (code === 0) out.end();
    else out.destroy(new Error(`zstd ${args[0] === '-d' ? 'decompression' : 'compression'} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').pop() ?? ''}`.trim()));
  });
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  // A pipeline that fails elsewhere destroys this stream: the program goes with it.
  duplex.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return duplex;
}
