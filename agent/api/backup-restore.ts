// POST /v1/services/:name/backups/:backup/restore (admin, body {"id"?}):
// restores a stored backup of the current release (default the newest good
// one). PUT …/restore/:id (admin): the same from an uploaded compressed
// plaintext (an encrypted backup the CLI decrypted), streamed to a temp file
// and checked against the token's bh and the record's plain_sha256 before it
// is used. Both answer NDJSON backupEventSchema lines. The work is
// agent/backups/restore.ts; nothing is stopped or written before the file
// checked out.
import type { IncomingMessage } from 'node:http';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { BackupEvent } from '../../shared/api-responses.js';
import { BerthError, ConflictError, NotFoundError, PayloadTooLargeError, UserError } from '../../shared/errors.js';
import type { BackupSpec } from '../../shared/manifest-backups.js';
import { describeIssues, manifestSubject, type ManifestPayload } from '../../shared/manifest.js';
import { sniffFormat } from '../backups/compression.js';
import type { Busy } from '../backups/busy.js';
import { beginRestore, checkStoredFile, readHead, restoreBackup, type RestoreDeps } from '../backups/restore.js';
import { receiveUpload } from '../backups/upload.js';
import type { StoredBackup } from '../store/backups-repo.js';
import { requireStreamedBodyHash, requireToken } from './auth.js';
import { lengthenBodyDeadline } from './body-deadline.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { ndjsonResponse } from './ndjson.js';
import { checkName, positive, requireDeployed, serviceTarget, type ServiceTarget } from './params.js';

/** An upload restore may take as long as it needs while bytes keep coming; this long without one drops it. */
const UPLOAD_IDLE_MS = 120_000;
const bodySchema = z.strictObject({ id: z.number().int().positive().optional() });
const UPLOAD_PATH = /^\/v1\/services\/[^/]+\/backups\/[^/]+\/restore\/[^/]+$/;

/** The upload route streams its own body, larger than the API's body cap: refuseDeclaredOversize lets it through. */
export function isRestoreUpload(method: string, path: string): boolean {
  return method === 'PUT' && UPLOAD_PATH.test(path);
}

function restoreDeps(deps: ApiDeps): RestoreDeps {
  if (!deps.accessories) throw new BerthError('unavailable', 503, 'this agent was started without accessory and backup support');
  return { store: deps.store, docker: deps.accessories.docker, accessories: deps.accessories, agentId: deps.identity.agentId, log: deps.log };
}

function busyOf(deps: ApiDeps): Busy {
  if (!deps.backups) throw new BerthError('unavailable', 503, 'this agent was started without backup support');
  return deps.backups.busy;
}

function currentBackup(deps: ApiDeps, target: ServiceTarget, backup: string): { m: ManifestPayload; spec: BackupSpec } {
  requireDeployed(deps.store, target);
  const current = deps.store.current(target.service, target.destination);
  const m = current ? deps.store.getRelease(current.deploy_id)?.payload : undefined;
  const spec = m?.backups?.[backup];
  if (!m || !spec) {
    const names = Object.keys(m?.backups ?? {}).sort();
    throw new NotFoundError(`backup ${backup} is not in the current release of ${manifestSubject(target.service, target.destination)} on this agent`, names.length > 0 ? `its backups here: ${names.join(', ')}` : undefined);
  }
  return { m, spec };
}

function storedRecord(deps: ApiDeps, m: ManifestPayload, backup: string, id: number | undefined): StoredBackup {
  const ref = { service: m.service, destination: m.destination, backup };
  const found = id === undefined ? deps.store.backups.newestGood(ref) : deps.store.backups.get(id);
  const r = found?.record;
  if (!found || !r || r.service !== ref.service || r.destination !== ref.destination || r.backup !== backup || !r.stored || r.outcome !== 'ok') {
    throw new NotFoundError(id === undefined ? `backup ${backup} has no stored good backup on this agent` : `no stored backup ${id} of ${backup} on this agent`, 'deploy backup list shows them');
  }
  // A tar archive is no dump, and a dump no archive.
  const kind = m.backups?.[backup]?.kind;
  if (kind !== undefined && r.kind !== kind) throw new ConflictError(`backup ${r.id} is of kind ${r.kind}; ${backup} is now of kind ${kind}`, undefined, 'backup_kind_changed');
  return found;
}

/** Streams the restore's events; the claim is released when it ended. */
function stream(c: Context<ApiEnv>, deps: ApiDeps, rd: RestoreDeps, run: { m: ManifestPayload; spec: BackupSpec; stored: StoredBackup; file: string; backup: string }, release: () => void, after?: () => Promise<void>): Response {
  const track = deps.track ?? (<T>(work: Promise<T>) => work);
  return ndjsonResponse<BackupEvent>(c, deps.log, (write) =>
    track((async () => {
      try {
        await write({ event: 'started', record: run.stored.record });
        await restoreBackup(rd, { ...run, keyId: c.get('caller').kid, say: (message) => write({ event: 'step', message }) });
        await write({ event: 'ended', record: run.stored.record, restored: true });
      } finally {
        release();
        await after?.();
      }
    })()),
  );
}

export function backupRestoreRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const base = '/v1/services/:name/backups/:backup/restore';

  app.post(base, requireToken(deps, 'admin'), async (c) => {
    const target = serviceTarget(c);
    const backup = checkName(c.req.param('backup') ?? '', 'backup');
    const parsed = bodySchema.safeParse(parseJsonBody(c.get('rawBody')));
    if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {} or {"id": N}');
    const rd = restoreDeps(deps);
    const { m, spec } = currentBackup(deps, target, backup);
    const stored = storedRecord(deps, m, backup, parsed.data.id);
    if (stored.record.recipient !== null) {
      throw new ConflictError(`backup ${stored.record.id} is encrypted; this agent cannot decrypt it`, `deploy backup restore ${backup} ${stored.record.id} --identity FILE decrypts it locally and uploads it`, 'backup_encrypted');
    }
    const release = beginRestore(deps.store, busyOf(deps), m, backup);
    try {
      const file = await checkStoredFile(rd, stored, c.get('caller').kid);
      return stream(c, deps, rd, { m, spec, stored, file, backup }, release);
    } catch (err) {
      release();
      throw err;
    }
  });

  app.put(`${base}/:id`, requireToken(deps, 'admin', { streamBody: true }), async (c) => {
    const target = serviceTarget(c);
    const backup = checkName(c.req.param('backup') ?? '', 'backup');
    const id = positive(c.req.param('id') ?? '', 'id', Number.MAX_SAFE_INTEGER);
    const rd = restoreDeps(deps);
    const { m, spec } = currentBackup(deps, target, backup);
    const stored = storedRecord(deps, m, backup, id);
    const { record, file: storedFile } = stored;
    if (record.size === null || record.plain_sha256 === null || storedFile === null) throw new ConflictError(`backup ${id} has no stored file`, undefined, 'backup_not_stored');
    const declared = c.req.header('content-length');
    if (declared !== undefined && (!/^\d{1,15}$/.test(declared) || Number(declared) > record.size)) {
      throw new PayloadTooLargeError(`the upload is larger than backup ${id} (${record.size} bytes)`);
    }
    const release = beginRestore(deps.store, busyOf(deps), m, backup);
    // Signed and claimed: the body may take longer than the API's request deadline, as long as it keeps coming.
    lengthenBodyDeadline((c.env as { incoming?: IncomingMessage } | undefined)?.incoming, UPLOAD_IDLE_MS);
    let upload;
    try {
      upload = await receiveUpload(c.req.raw.body, storedFile, id, record.size);
    } catch (err) {
      release();
      throw err;
    }
    try {
      requireStreamedBodyHash(c, upload.bodyHash);
      const format = sniffFormat(await readHead(upload.path));
      if (upload.sha256 !== record.plain_sha256 || format !== record.compression) {
        deps.store.audit.record({
          keyId: c.get('caller').kid, action: 'backup.refused', service: m.service, destination: m.destination,
          detail: { backup, id, code: 'backup_corrupt', reason: 'the upload is not the backup\'s plaintext' },
        });
        throw new ConflictError(
          `the upload is not backup ${id}'s plaintext: its SHA-256 is ${upload.sha256}, the record says ${record.plain_sha256}; nothing was changed`,
          'decrypt the file downloaded from this agent with the identity it was encrypted to', 'backup_corrupt',
        );
      }
    } catch (err) {
      release();
      await upload.remove();
      throw err;
    }
    return stream(c, deps, rd, { m, spec, stored, file: upload.path, backup }, release, upload.remove);
  });
}
