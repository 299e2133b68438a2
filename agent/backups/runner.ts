// One backup run from start to end: the busy check (one run or restore of a
// backup at a time), the agent's cap on runs at once, the row, the source and
// the writer under the backup's timeout, then the ending: for a failure the
// audit row (in the same transaction as the ending) and the notify hook, for
// a good run retention. Shutdown interrupts runs; they are recorded so.
import { rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { AGENT_ACTOR, type BackupRecord, type BackupTrigger, type JWK } from '../../shared/api-types.js';
import { BerthError, RateLimitError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { BackupSpec } from '../../shared/manifest-backups.js';
import { backupDir, backupFileName } from '../core/backups/naming.js';
import { retentionPlan } from '../core/backups/retention.js';
import type { Logger } from '../log.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { AuditInput } from '../store/audit-repo.js';
import type { BackupRef } from '../store/backups-repo.js';
import type { Store } from '../store/index.js';
import { sendFailureNotice, type Notifier } from '../cron/notify.js';
import { createBusy, type Busy } from './busy.js';
import { openSource, SourceRefused, type SourceDeps } from './sources.js';
import { verifyDump, type VerifyDeps } from './verify.js';
import { writeBackup, type WriteResult } from './writer.js';

export interface BackupRunnerDeps extends SourceDeps {
  store: Store;
  log: Logger;
  /** The backup roots (--backup-dir), absolute; the first is the default. */
  roots: string[];
  hostname: string;
  agentId: string;
  network: string;
  sealingPrivateJwk: JWK;
  unseal?: Unseal;
  notify: Notifier;
  /** Backup runs at once, all services together (--backup-max-running). */
  maxRunning: number;
  /** The verify step (agent/backups/verify.ts); tests may replace it. */
  verify?: typeof verifyDump;
}

export interface RunRequest {
  ref: BackupRef;
  /** The release the backup's spec and accessory come from (the new one for before_deploy). */
  manifest: ManifestPayload;
  spec: BackupSpec;
  trigger: BackupTrigger;
  release: string | null;
  forRelease: string | null;
  /** Manual runs: who asked (their `backup.ok` audit row). */
  keyId?: string;
  onStart?: (record: BackupRecord) => void;
}

export interface BackupRunner {
  /** Resolves with the ended record; throws 409 backup_busy, or 429 for a manual run over the cap, before anything starts. */
  run(req: RunRequest): Promise<BackupRecord>;
  /** Whether a run may start now under the cap (a scheduled slot is skipped otherwise). */
  hasSlot(): boolean;
  busy: Busy;
  /** Shutdown: running backups are cut short and recorded as interrupted. */
  stop(): Promise<void>;
}

const INTERRUPTED = 'the agent stopped during the run';

export function createBackupRunner(deps: BackupRunnerDeps): BackupRunner {
  const busy = createBusy();
  const running = new Map<number, { abort: AbortController; settled: Promise<unknown> }>();
  const waiting: Array<() => void> = [];
  let stopped = false;
  const hasSlot = () => running.size < deps.maxRunning;

  async function slot(trigger: BackupTrigger): Promise<void> {
    // A deploy waits for a slot; an operator is told; a schedule is skipped by its caller.
    while (!hasSlot()) {
      if (trigger !== 'before_deploy') throw new RateLimitError(`this agent already runs ${deps.maxRunning} backups at once (berth-agent run --backup-max-running)`);
      await new Promise<void>((r) => waiting.push(r));
    }
  }

  async function take(req: RunRequest, id: number, startedAt: number, signal: AbortSignal): Promise<WriteResult> {
    const { ref, spec, manifest } = req;
    const where = backupDir(deps.roots, ref, spec);
    const failed = (reason: string): WriteResult => ({ outcome: 'failed', reason, file: null, size: null, rawSize: null, sha256: null, plainSha256: null, verify: null, verifyOutput: '' });
    if ('problem' in where) return failed(where.problem);
    let source;
    try {
      source = await openSource(deps, manifest, ref.backup, spec);
    } catch (e) {
      return failed(e instanceof SourceRefused ? e.message : `could not read the ${spec.kind === 'accessory' ? 'dump' : 'source'}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const kill = () => source.kill();
    signal.addEventListener('abort', kill);
    try {
      const accessory = spec.accessory === undefined ? undefined : manifest.accessories?.[spec.accessory];
      const verifyDeps: VerifyDeps = { docker: deps.docker, agentId: deps.agentId, stateDir: deps.stateDir, network: deps.network, sealingPrivateJwk: deps.sealingPrivateJwk, policy: deps.policy, ...(deps.unseal ? { unseal: deps.unseal } : {}) };
      return await writeBackup({
        dir: where.dir,
        name: backupFileName({ backup: ref.backup, id, startedAt, kind: spec.kind, compression: spec.compression, encrypted: spec.recipient !== undefined }),
        id,
        compression: spec.compression,
        recipient: spec.recipient,
        minSize: spec.min_size,
        what: spec.kind === 'accessory' ? 'the dump' : `the archive of ${spec.kind} ${spec.volume ?? spec.directory}`,
        source,
        signal,
        verify: spec.verify && accessory
          ? (file) => (deps.verify ?? verifyDump)(verifyDeps, { ...ref, spec, accessory, file, compression: spec.compression, signal })
          : undefined,
      });
    } finally {
      signal.removeEventListener('abort', kill);
      await source.dispose();
    }
  }

  async function notifyFailure(manifest: ManifestPayload, record: BackupRecord): Promise<void> {
    const outcome = await sendFailureNotice(deps, manifest, {
      event: 'backup.failed', service: record.service, destination: record.destination, backup: record.backup, host: deps.hostname,
      agent: deps.agentId, id: record.id, trigger: record.trigger, outcome: record.outcome, reason: record.reason, release: record.release,
      started_at: record.started_at, ended_at: record.ended_at,
    });
    if (outcome === undefined) return;
    try {
      deps.store.backups.setNotify(record.id, outcome);
    } catch (e) {
      deps.log.warn('backups: could not record the notify outcome', { id: record.id, err: e });
    }
  }

  async function retention(ref: BackupRef, spec: BackupSpec): Promise<void> {
    const rows = deps.store.backups.storedRows(ref);
    const plan = retentionPlan(
      rows.map(({ record: r }) => ({ id: r.id, outcome: r.outcome, verify: r.verify, startedAtMs: Date.parse(r.started_at) })),
      { keep: spec.keep, maxAgeS: spec.max_age },
      Date.now(),
    );
    for (const id of plan) {
      const row = rows.find((r) => r.record.id === id);
      if (row?.file) await rm(row.file, { force: true });
      deps.store.backups.markDeleted(id, {
        keyId: AGENT_ACTOR, action: 'backup.deleted', service: ref.service, destination: ref.destination,
        detail: { backup: ref.backup, id, file: row?.file ? posix.basename(row.file) : null, reason: 'retention' },
      });
    }
  }

  async function run(req: RunRequest): Promise<BackupRecord> {
    if (stopped) throw new BerthError('unavailable', 503, 'the agent is stopping');
    const release = busy.claim(req.ref, 'run');
    let started: BackupRecord | undefined;
    try {
      await slot(req.trigger);
      const { ref, spec, manifest } = req;
      const image = spec.kind === 'accessory' ? (manifest.accessories?.[spec.accessory as string]?.image ?? null) : null;
      started = deps.store.backups.start({
        ...ref, kind: spec.kind, trigger: req.trigger, compression: spec.compression, recipient: spec.recipient ?? null,
        release: req.release, forRelease: req.forRelease, image,
      });
      const id = started.id;
      req.onStart?.(started);
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error(`timed out after ${spec.timeout}s; the ${spec.kind === 'accessory' ? 'dump' : 'archive'} was stopped`)), spec.timeout * 1000);
      timer.unref();
      const work = take(req, id, Date.parse(started.started_at), abort.signal);
      running.set(id, { abort, settled: work.catch(() => undefined) });
      let result: WriteResult;
      try {
        result = await work;
      } catch (e) {
        result = { outcome: 'failed', reason: `the backup failed: ${e instanceof Error ? e.message : String(e)}`, file: null, size: null, rawSize: null, sha256: null, plainSha256: null, verify: null, verifyOutput: '' };
      } finally {
        clearTimeout(timer);
      }
      const interrupted = abort.signal.aborted && abort.signal.reason instanceof Interrupted;
      if (interrupted && result.file !== null) {
        // Written before the stop came (a verify cut short): an interrupted run stores nothing, as one a restart finds.
        await rm(result.file, { force: true }).catch(() => undefined);
        result = { ...result, file: null };
      }
      const outcome = interrupted ? 'interrupted' : result.outcome;
      const audit: AuditInput | undefined = outcome !== 'ok'
        ? { keyId: AGENT_ACTOR, action: 'backup.failed', service: ref.service, destination: ref.destination, detail: { backup: ref.backup, id, trigger: req.trigger, outcome, reason: result.reason, release: req.release } }
        : req.trigger === 'manual'
          ? { keyId: req.keyId ?? AGENT_ACTOR, action: 'backup.ok', service: ref.service, destination: ref.destination, detail: { backup: ref.backup, id, size: result.size, sha256: result.sha256 } }
          : undefined;
      const ended = deps.store.backups.finish(id, { ...result, outcome, ...(audit ? { audit } : {}) }) ?? started;
      if (ended.outcome === 'ok') await retention(ref, spec).catch((e: unknown) => deps.log.error('backups: retention failed', { backup: ref.backup, service: ref.service, err: e }));
      else {
        deps.log.warn('backups: a run failed', { service: ref.service, backup: ref.backup, id, reason: ended.reason });
        void notifyFailure(manifest, ended);
      }
      return deps.store.backups.get(id)?.record ?? ended;
    } finally {
      if (started) running.delete(started.id);
      release();
      waiting.shift()?.();
    }
  }

  return {
    run,
    hasSlot,
    busy,
    async stop() {
      stopped = true;
      for (const r of running.values()) r.abort.abort(new Interrupted(INTERRUPTED));
      await Promise.all([...running.values()].map((r) => r.settled));
    },
  };
}

class Interrupted extends Error {}
