// Restoring one stored backup of a service (POST …/restore, and PUT …/restore/:id
// once the uploaded plaintext checked out). Order matters: the file's SHA-256
// against the record and its format against the record come before anything
// is stopped or written (checkStoredFile); the archive of a volume or
// directory is judged whole before the target is emptied; what was stopped
// is started again whatever happened. One restore or run per backup at a time
// (busy.ts), none while a deploy of the service is under way.
import { open } from 'node:fs/promises';
import { isFinalDeployState } from '../../shared/api-types.js';
import type { BackupRecord } from '../../shared/api-types.js';
import { ArchiveRefusedError, ConflictError, errorText } from '../../shared/errors.js';
import type { BackupSpec } from '../../shared/manifest-backups.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { findAccessory, requireAccessory, type AccessoryDeps } from '../accessories/service.js';
import { openAccessorySecrets } from '../accessories/secrets.js';
import type { DockerPort } from '../docker.js';
import type { Logger } from '../log.js';
import type { StoredBackup } from '../store/backups-repo.js';
import type { Store } from '../store/index.js';
import type { Busy } from './busy.js';
import { sniffFormat } from './compression.js';
import { execWithInput, lastLines } from './exec-input.js';
import { hashFile } from './file-hash.js';
import { checkArchiveFile, checkTarget, dataTarget, refuseTargetInUse, writeArchive } from './restore-data.js';
import { stopForRestore } from './restore-stops.js';

export interface RestoreDeps {
  store: Store;
  /** The agent-scoped port. */
  docker: DockerPort;
  /** Stopping and starting accessories, their secrets, the guardrail policy, the state dir. */
  accessories: AccessoryDeps;
  agentId: string;
  log: Logger;
}

export interface RestoreRequest {
  /** The current release (it names the backup). */
  m: ManifestPayload;
  backup: string;
  spec: BackupSpec;
  stored: StoredBackup;
  /** The compressed plaintext to restore from: the stored file, or an upload already checked against plain_sha256. */
  file: string;
  keyId: string;
  say: (message: string) => Promise<void> | void;
}

type Say = RestoreRequest['say'];

function refuse(deps: RestoreDeps, record: BackupRecord, keyId: string, err: ConflictError): never {
  deps.store.audit.record({
    keyId, action: 'backup.refused', service: record.service, destination: record.destination,
    detail: { backup: record.backup, id: record.id, code: err.code, reason: err.message },
  });
  throw err;
}

/**
 * The stored file is the one recorded (SHA-256 over the whole file) and of
 * the recorded format: 409 backup_corrupt (audited backup.refused) otherwise.
 */
export async function checkStoredFile(deps: RestoreDeps, stored: StoredBackup, keyId: string): Promise<string> {
  const { record, file } = stored;
  if (file === null || !record.stored || record.sha256 === null) {
    throw new ConflictError(`backup ${record.id} has no stored file`, undefined, 'backup_not_stored');
  }
  const corrupt = (why: string) => refuse(deps, record, keyId, new ConflictError(`backup ${record.id} (${record.backup}) is corrupt: ${why}; nothing was changed`, 'restore another backup (deploy backup list)', 'backup_corrupt'));
  let actual;
  try {
    actual = await hashFile(file);
  } catch (err) {
    return corrupt(`its file cannot be read (${errorText(err)})`);
  }
  if (actual.sha256 !== record.sha256) return corrupt(`its SHA-256 is ${actual.sha256}, the record says ${record.sha256}`);
  const format = sniffFormat(await readHead(file));
  const expected = record.recipient !== null ? 'age' : record.compression;
  if (format !== expected) return corrupt(`the file is ${format}, the record says ${expected}`);
  return file;
}

export async function readHead(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(32);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** 409 when a deploy of the service runs now: it could switch the writers' release under the restore. */
function refuseDuringDeploy(store: Store, m: ManifestPayload): void {
  const latest = store.latestDeploy(m.service, m.destination);
  if (latest && !isFinalDeployState(latest.state)) {
    throw new ConflictError(`deploy ${latest.id} of ${m.service} is under way`, 'restore once it has ended', 'deploy_in_progress');
  }
}

/**
 * Claims the backup for a restore (409 backup_busy while a run or restore of
 * it is under way; 409 deploy_in_progress during a deploy of the service).
 * Call the returned release when the restore ended.
 */
export function beginRestore(store: Store, busy: Busy, m: ManifestPayload, backup: string): () => void {
  refuseDuringDeploy(store, m);
  return busy.claim({ service: m.service, destination: m.destination, backup }, 'restore');
}

/**
 * The restore itself, under beginRestore's claim; throws after auditing
 * backup.restore_failed (backup.refused for an archive entry refused). The
 * caller has checked the file (checkStoredFile, or the upload's hash).
 */
export async function restoreBackup(deps: RestoreDeps, req: RestoreRequest): Promise<void> {
  const { record } = req.stored;
  const audit = (action: 'backup.restored' | 'backup.restore_failed' | 'backup.refused', extra: Record<string, unknown>) =>
    deps.store.audit.record({
      keyId: req.keyId, action, service: record.service, destination: record.destination,
      detail: { backup: record.backup, id: record.id, kind: record.kind, release: req.m.version, ...extra },
    });
  try {
    if (req.spec.kind === 'accessory') await restoreDump(deps, req, req.say);
    else await restoreData(deps, req, req.say);
    audit('backup.restored', {});
  } catch (err) {
    audit(err instanceof ArchiveRefusedError ? 'backup.refused' : 'backup.restore_failed', { reason: errorText(err).slice(0, 1000) });
    throw err;
  }
}

async function restoreData(deps: RestoreDeps, req: RestoreRequest, say: Say): Promise<void> {
  const { spec, m, backup, file } = req;
  const data = { docker: deps.docker, agentId: deps.agentId, stateDir: deps.accessories.stateDir, policy: deps.accessories.policy };
  const target = await dataTarget(data, m, backup, spec);
  await say(`checking every entry of the archive (nothing written yet)`);
  const check = await checkArchiveFile(file, req.stored.record.compression);
  await say(`archive checked: ${check.entries} entries`);
  await checkTarget(data, target);
  const stopped = await stopForRestore(deps, m, { writers: spec.writers, accessory: spec.accessory }, say);
  try {
    await refuseTargetInUse(data, target);
  } catch (err) {
    await finish(stopped, err, say);
  }
  let failure: unknown;
  try {
    await writeArchive(data, m, backup, target, file, { ...check, compression: req.stored.record.compression }, say);
    await say(`restored ${target.label} from backup ${req.stored.record.id}`);
  } catch (err) {
    failure = err;
    await say(`restore failed: ${errorText(err)}; ${target.label} may be partly written (restore again, or another backup)`);
  }
  await finish(stopped, failure, say);
}

async function restoreDump(deps: RestoreDeps, req: RestoreRequest, say: Say): Promise<void> {
  const { spec, m } = req;
  const name = spec.accessory as string;
  const accessory = requireAccessory(m, name);
  const found = await findAccessory(deps.docker, m, name);
  if (!found?.running) throw new ConflictError(`accessory ${name} is not running`, `deploy accessory start ${name}`, 'accessory_not_running');
  const secrets = await openAccessorySecrets(m, name, accessory, deps.accessories.sealingPrivateJwk, deps.accessories.unseal ?? defaultUnseal);
  const stopped = await stopForRestore(deps, m, { writers: spec.writers }, say);
  let failure: unknown;
  try {
    await say(`running the restore command in ${found.name}`);
    // The backup's timeout bounds its restore too: a restore waiting on a lock for ever would keep the writers stopped.
    const signal = AbortSignal.timeout(spec.timeout * 1000);
    const result = await execWithInput(deps.docker, {
      containerId: found.id, argv: spec.restore as string[], user: spec.user,
      file: { path: req.file, compression: req.stored.record.compression }, secrets: secrets.env, signal,
    });
    if (signal.aborted) {
      throw new ConflictError(`the restore command timed out after ${spec.timeout}s; it may still be running in ${found.name} (Docker cannot stop an exec'd process: restart the accessory to end it)`, undefined, 'restore_timed_out');
    }
    if (result.exitCode !== 0) {
      throw new ConflictError(`the restore command exited ${result.exitCode ?? 'with an unknown code'}: ${lastLines(result.output, 10)}`, undefined, 'restore_failed');
    }
    await say(`restored accessory ${name} from backup ${req.stored.record.id}`);
  } catch (err) {
    failure = err;
  }
  await finish(stopped, failure, say);
}

async function finish(stopped: { restart(): Promise<string[]> }, failure: unknown, say: Say): Promise<void> {
  const problems = await stopped.restart();
  if (problems.length > 0) await say(problems.join('; '));
  if (failure !== undefined) throw failure;
  if (problems.length > 0) throw new ConflictError(`restored, but ${problems.join('; ')}`, undefined, 'restart_failed');
}
