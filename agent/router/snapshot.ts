// The router's own copy of the last applied route set, so it serves the same
// routes after a restart while the agent is down. Written so a crash at any
// point leaves either the old or the new file, never a torn one.

import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileDurably } from '../durable-file.js';
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
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileDurably(path, `${JSON.stringify(set, null, 2)}\n`, 0o644);
}
