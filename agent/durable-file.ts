// A file replaced so that a crash at any point leaves either the old or the
// new content, never a torn file: written to a temporary name beside it,
// synced, renamed over it, and the directory synced so the rename is durable.
// Used for the router's route snapshot, certificate and error page copies and
// the agent's TLS keys; `readSmallFile` reads such a copy back, bounded.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `text` to `path` with `mode` (the directory must exist). */
export async function writeFileDurably(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // 'wx' with the mode: the file never exists with wider permissions, not even briefly.
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The file as UTF-8, refused when larger than `maxBytes` (a copy someone replaced by something huge). */
export async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    if ((await handle.stat()).size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
