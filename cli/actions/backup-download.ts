// deploy backup download ID: one stored backup file, streamed to a temp file
// beside the target while it is hashed, kept only when its SHA-256 is the one
// the agent recorded when it wrote the file (a damaged file is deleted, never
// left looking like a backup). Restore of an encrypted backup downloads the
// same way (fetchBackupFile).

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackupRecord } from '../../shared/api-types.js';
import { UpstreamError, UserError } from '../../shared/errors.js';
import { hashing } from '../../shared/hash-stream.js';
import { formatServerAddress } from '../address.js';
import { openBackupFile } from '../agent-api/backup-endpoints.js';
import type { AgentClient } from '../agent-api/client.js';
import type { ServiceRef } from '../agent-api/endpoints.js';
import { connectPinned } from '../agent-api/pinning.js';
import { removeOnSignal } from '../remove-on-signal.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/types.js';
import { loadFleet } from '../rollout/fleet.js';
import { chooseServer } from './backup.js';


export interface FetchedFile {
  path: string;
  size: number;
  sha256: string;
  record: BackupRecord;
  filename: string;
}

/**
 * Streams backup `id` into `tempPath` (0600, must not exist) and checks its
 * SHA-256 against the agent's record; on any failure the temp file is gone.
 */
export async function fetchBackupFile(client: AgentClient, ref: ServiceRef, id: number, tempPath: (filename: string) => string): Promise<FetchedFile> {
  const file = await openBackupFile(client, ref, id);
  const path = tempPath(file.filename);
  const h = hashing();
  try {
    await pipeline(file.body, h.stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    const got = h.digest().toString('hex');
    if (got !== file.sha256) throw new UpstreamError(`checksum mismatch: expected ${file.sha256}, got ${got} (the stored file on ${client.label} is damaged)`, 'deploy backup list shows the other backups there', 'backup_corrupt');
    if (h.size() !== file.size) throw new UpstreamError(`${client.label} sent ${h.size()} bytes of backup #${id}, not the ${file.size} it announced`, undefined, 'unreachable');
  } catch (err) {
    file.body.destroy();
    await unlink(path).catch(() => undefined);
    if (err instanceof UpstreamError) throw err;
    throw new UpstreamError(`the download of backup #${id} from ${client.label} failed: ${err instanceof Error ? err.message : String(err)}`, undefined, 'unreachable');
  }
  return { path, size: h.size(), sha256: file.sha256, record: file.record, filename: file.filename };
}

/** A backup ID argument: a positive whole number. */
export function backupId(raw: string): number {
  const id = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(id >= 1)) throw new UserError(`"${raw.slice(0, 30)}" is not a backup ID (a number from deploy backup list)`, undefined, 'usage');
  return id;
}

/** `--host`, which IDs need once there are several servers (each numbers its own backups). */
export function hostForId(config: DeployConfig, host: string | undefined, command: string): ReturnType<typeof chooseServer> {
  if (host !== undefined) return chooseServer(config, host);
  const [only, ...more] = config.servers;
  if (!only || more.length > 0) throw new UserError(`deploy backup ${command} needs --host: backup IDs are per server and this app has ${config.servers.length} servers`, 'deploy backup list shows each server\'s backups', 'usage');
  return only;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

export async function backupDownload(ctx: RunContext, options: { id: string; host: string | undefined; output: string | undefined }): Promise<void> {
  const id = backupId(options.id);
  const fleet = await loadFleet(ctx);
  const address = hostForId(fleet.config, options.host, 'download');
  const { service, destination } = fleet.config;
  const asked = options.output === undefined ? undefined : resolve(ctx.env.cwd, options.output);
  if (asked && (await exists(asked))) throw new UserError(`${options.output} exists; not overwritten`, 'name another file with -o', 'usage');
  const { client } = await connectPinned({ appDir: fleet.appDir, address, key: fleet.key, trustNew: false });
  let target = asked ?? '';
  const temp = (filename: string) => {
    target ||= resolve(ctx.env.cwd, filename);
    return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
  };
  let disarm = () => {};
  const armedTemp = (filename: string) => {
    const path = temp(filename);
    disarm = removeOnSignal(path);
    return path;
  };
  const got = await fetchBackupFile(client, { service, destination }, id, armedTemp).finally(() => disarm());
  const disarmSaved = removeOnSignal(got.path);
  try {
    // link, not rename: a file that appeared meanwhile is not overwritten.
    await link(got.path, target);
  } catch (err) {
    throw new UserError(`could not save ${target}: ${(err as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists; not overwritten' : (err as Error).message}`, 'name another file with -o', 'usage');
  } finally {
    await unlink(got.path).catch(() => undefined);
    disarmSaved();
  }
  const host = formatServerAddress(address);
  if (ctx.json) ctx.printer.json({ host, id, backup: got.record.backup, path: target, size: got.size, sha256: got.sha256, encrypted: got.record.recipient !== null });
  else {
    ctx.printer.out(`${target}\n  size ${got.size} bytes\n  sha256 ${got.sha256}`);
    if (got.record.recipient !== null) ctx.printer.err(`backup #${id} is encrypted to ${got.record.recipient}; decrypt it with age -d -i IDENTITY_FILE`);
  }
}
