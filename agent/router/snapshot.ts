// The router's own copy of the last applied route set, so it serves the same
// routes after a restart while the agent is down. Written so a crash at any
// point leaves either the old or the new file, never a torn one.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseRouteSet } from './table.js';
import type { RouteSet } from './types.js';

const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/** The snapshot, or undefined when there is none. Throws on an unreadable or invalid file. */
export async function loadSnapshot(path: string): Promise<RouteSet | undefined> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_SNAPSHOT_BYTES) throw new Error(`snapshot ${path} is larger than ${MAX_SNAPSHOT_BYTES} bytes`);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`snapshot ${path} is not valid JSON`);
  }
  try {
    return parseRouteSet(data);
  } catch (e) {
    throw new Error(`snapshot ${path}: ${(e as Error).message}`);
  }
}

export async function saveSnapshot(path: string, set: RouteSet): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(set, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  // The rename is durable only once the directory entry is on disk.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

