// /v1/services/:name/backups…: the current release's backups on this agent
// and their records (`deploy backup list`), a run now (`deploy backup run`,
// NDJSON: started, then ended with the record) and a stored file's download
// (admin: a backup holds the app's data), streamed from disk with the SHA-256
// recorded when it was written, so the client can tell a file that changed.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Hono } from 'hono';
import { z } from 'zod';
import { AGENT_ACTOR, type BackupRecord } from '../../shared/api-types.js';
import type { BackupEvent, BackupsResponse } from '../../shared/api-responses.js';
import { BerthError, NotFoundError, UserError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/manifest.js';
import type { BackupService } from '../backups/service.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { ndjsonResponse } from './ndjson.js';
import { checkName, optionalName, positive, requireDeployed, serviceQuery, serviceTarget } from './params.js';

const DEFAULT_RECORDS = 50;
const MAX_RECORDS = 500;
const runBodySchema = z.strictObject({});

function backupsOf(deps: ApiDeps): BackupService {
  if (!deps.backups) throw new BerthError('unavailable', 503, 'this agent was started without backup support');
  return deps.backups;
}

/** Texts in the header are cut: 4000 characters each (escaped control characters, non-ASCII) could pass a client's 16 KiB header limit; the list has them whole. */
const HEADER_TEXT_CHARS = 200;
function headerRecord(r: BackupRecord): BackupRecord {
  const cut = (t: string) => (t.length > HEADER_TEXT_CHARS ? `${t.slice(0, HEADER_TEXT_CHARS)}…` : t);
  return { ...r, reason: cut(r.reason), verify_output: cut(r.verify_output), notify: r.notify === null ? null : cut(r.notify) };
}

export function backupRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const base = '/v1/services/:name/backups';

  app.get(base, requireToken(deps, 'read'), (c) => {
    const { target, query } = serviceQuery(c, ['backup', 'limit']);
    const backup = optionalName(query.backup, 'backup');
    requireDeployed(deps.store, target);
    const service = backupsOf(deps);
    const limit = query.limit === undefined ? DEFAULT_RECORDS : positive(query.limit, 'limit', MAX_RECORDS);
    const current = deps.store.current(target.service, target.destination);
    const statuses = service.statuses(target).filter((s) => backup === undefined || s.name === backup);
    const records = deps.store.backups.list({ ...target, backup }, limit).map((r) => r.record);
    return c.json({ release: current?.version ?? null, backups: statuses, records } satisfies BackupsResponse);
  });

  app.post(`${base}/:backup/run`, requireToken(deps, 'deploy'), async (c) => {
    const target = serviceTarget(c);
    const backup = checkName(c.req.param('backup') ?? '', 'backup');
    const parsed = runBodySchema.safeParse(parseJsonBody(c.get('rawBody')));
    if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {}');
    requireDeployed(deps.store, target);
    const service = backupsOf(deps);
    let started: (r: BackupRecord) => void = () => {};
    const start = new Promise<BackupRecord>((resolve) => (started = resolve));
    const running = service.runNow({ ...target, backup }, c.get('caller').kid, started);
    // Refusals (unknown backup, busy, the cap) come before the run starts: they answer with their status.
    const first = await Promise.race([start, running]);
    return ndjsonResponse<BackupEvent>(c, deps.log, async (write, signal) => {
      await write({ event: 'started', record: first });
      // The run goes on if the client left: its ending is recorded either way.
      const record = await running;
      if (!signal.aborted) await write({ event: 'ended', record });
    });
  });

  app.get(`${base}/files/:id`, requireToken(deps, 'admin'), async (c) => {
    const target = serviceTarget(c);
    const raw = c.req.param('id') ?? '';
    const id = positive(raw, 'backup id', Number.MAX_SAFE_INTEGER);
    const row = deps.store.backups.get(id);
    const { record, file } = row ?? { record: undefined, file: null };
    if (!record || record.service !== target.service || record.destination !== target.destination) {
      throw new NotFoundError(`no backup #${id} of this service on this agent`);
    }
    if (!record.stored || file === null || record.sha256 === null) throw new NotFoundError(`backup #${id} has no stored file (${record.outcome}${record.stored ? '' : ', deleted or never stored'})`);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) {
      deps.store.backups.markDeleted(id, {
        keyId: AGENT_ACTOR, action: 'backup.deleted', service: record.service, destination: record.destination,
        detail: { backup: record.backup, id, file: posix.basename(file), reason: 'missing on disk' },
      });
      throw new NotFoundError(`backup #${id}: its file ${file} is missing on disk; it is marked deleted`);
    }
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
    return c.body(body, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(st.size),
      'content-disposition': `attachment; filename="${posix.basename(file)}"`,
      'x-berth-sha256': record.sha256,
      'x-berth-backup': Buffer.from(JSON.stringify(headerRecord(record))).toString('base64url'),
      'cache-control': 'no-store',
    });
  });
}
