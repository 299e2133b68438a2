// The backup endpoints the CLI calls, one typed function each; every answer
// is checked against its shared schema (shared/api-responses.ts) before a
// command reads it. Run and restore answer NDJSON events; a backup file comes
// back as a stream the caller writes to disk (never held in memory).

import type { IncomingMessage } from 'node:http';
import { backupEventSchema, backupRecordSchema, backupsResponseSchema } from '../../shared/api-responses.js';
import type { BackupRecord } from '../../shared/api-types.js';
import { UpstreamError } from '../../shared/errors.js';
import { readNdjson } from '../ndjson.js';
import { outdatedAgentError, servicePath, type AgentClient } from './client.js';
import type { ServiceRef } from './endpoints.js';

// Derived here, not from zod (imported by schema modules only).
export type BackupsResponse = ReturnType<typeof backupsResponseSchema.parse>;
export type BackupEvent = ReturnType<typeof backupEventSchema.parse>;

/** The agent sends a keepalive while a dump or restore is quiet; this is how long silence may last. */
export const BACKUP_IDLE_MS = 120_000;

const malformed = (client: AgentClient, what: string) => new UpstreamError(`${client.label} sent a malformed ${what}`);

function rejectOutdated(client: AgentClient, body: unknown): void {
  const outdated = outdatedAgentError(client.label, body, `the agent on ${client.label} does not take backups`);
  if (outdated) throw outdated;
}

const backupPath = (ref: ServiceRef, suffix: string) => servicePath(ref.service, ref.destination, `backups${suffix}`);

/** GET …/backups[?backup=NAME&limit=N]: the current release's backups here and their records; null when never deployed here. */
export async function readBackups(client: AgentClient, ref: ServiceRef, o: { backup?: string; limit?: number } = {}): Promise<BackupsResponse | null> {
  const query = `${o.backup !== undefined ? `&backup=${encodeURIComponent(o.backup)}` : ''}${o.limit !== undefined ? `&limit=${o.limit}` : ''}`;
  const { status, body } = await client.json('GET', `${backupPath(ref, '')}${query}`, { accept: [404] });
  if (status === 404) {
    rejectOutdated(client, body);
    return null;
  }
  const parsed = backupsResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'backup list');
  return parsed.data;
}

async function* events(client: AgentClient, res: IncomingMessage): AsyncGenerator<BackupEvent> {
  for await (const line of readNdjson(res, client.label)) {
    const parsed = backupEventSchema.safeParse(line);
    if (!parsed.success) throw malformed(client, 'backup event');
    yield parsed.data;
  }
}

const NDJSON = { accept: 'application/x-ndjson' };

/** POST …/backups/:backup/run: `started`, `step`s, then `ended` with the record (its outcome says whether it worked). */
export async function* runBackup(client: AgentClient, ref: ServiceRef, backup: string): AsyncGenerator<BackupEvent> {
  const res = await client.streamRequest('POST', backupPath(ref, `/${encodeURIComponent(backup)}/run`), { body: {}, headers: NDJSON, idleTimeoutMs: BACKUP_IDLE_MS });
  yield* events(client, res);
}

/** POST …/backups/:backup/restore: restores backup `id` (default the newest good one) from the file the agent keeps. */
export async function* restoreBackup(client: AgentClient, ref: ServiceRef, backup: string, id: number | undefined): AsyncGenerator<BackupEvent> {
  const body = id === undefined ? {} : { id };
  const res = await client.streamRequest('POST', backupPath(ref, `/${encodeURIComponent(backup)}/restore`), { body, headers: NDJSON, idleTimeoutMs: BACKUP_IDLE_MS });
  yield* events(client, res);
}

/** PUT …/backups/:backup/restore/:id: restores from `file`, the record's compressed plaintext (decrypted here). */
export async function* uploadRestore(client: AgentClient, ref: ServiceRef, backup: string, id: number, file: { path: string; size: number; hash: string }): AsyncGenerator<BackupEvent> {
  const res = await client.uploadFile(backupPath(ref, `/${encodeURIComponent(backup)}/restore/${id}`), file, { headers: NDJSON, idleTimeoutMs: BACKUP_IDLE_MS });
  yield* events(client, res);
}

export interface BackupFile {
  body: IncomingMessage;
  /** Hex SHA-256 of the stored file, as the agent recorded it. */
  sha256: string;
  size: number;
  record: BackupRecord;
  filename: string;
}

/** The `filename` of a content-disposition header, reduced to a plain file name (no directories). */
function filenameOf(header: string | undefined, id: number): string {
  const match = /filename="?([^";]+)"?/i.exec(header ?? '');
  const name = (match?.[1] ?? '').split(/[\\/]/).pop() ?? '';
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(name) ? name : `backup-${id}`;
}

/** GET …/backups/files/:id: the stored file as a stream, with the checksum and record the agent sends beside it. */
export async function openBackupFile(client: AgentClient, ref: ServiceRef, id: number): Promise<BackupFile> {
  const body = await client.streamRequest('GET', backupPath(ref, `/files/${id}`), { headers: { accept: 'application/octet-stream' }, idleTimeoutMs: BACKUP_IDLE_MS });
  const sha256 = String(body.headers['x-berth-sha256'] ?? '');
  let record: unknown;
  try {
    record = JSON.parse(Buffer.from(String(body.headers['x-berth-backup'] ?? ''), 'base64url').toString('utf8'));
  } catch {
    record = undefined;
  }
  const parsed = backupRecordSchema.safeParse(record);
  if (!/^[0-9a-f]{64}$/.test(sha256) || !parsed.success) {
    body.destroy();
    throw malformed(client, 'backup file answer (no checksum or record headers)');
  }
  return { body, sha256, size: Number(body.headers['content-length'] ?? parsed.data.size ?? 0), record: parsed.data, filename: filenameOf(body.headers['content-disposition'], id) };
}
