// The agent's backups: a timer for each scheduled backup of every service's
// CURRENT release (re-read as each deploy ends, as cron is), a catch-up once
// after a restart for a slot missed while the agent was down, manual runs,
// the before_deploy backups a deploy asks for, and what a status answer
// shows. At start, rows a previous process left running are recorded as
// interrupted, and its temp files and archive containers removed.
import { readdir, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { AGENT_ACTOR, type BackupRecord, type BackupStatus, type DeployRecord } from '../../shared/api-types.js';
import { parseCronSchedule, type CronSchedule } from '../../shared/cron-schedule.js';
import { NotFoundError } from '../../shared/errors.js';
import { manifestSubject, type ManifestPayload } from '../../shared/manifest.js';
import type { BackupSpec } from '../../shared/manifest-backups.js';
import { backupDir, TEMP_PREFIX } from '../core/backups/naming.js';
import { LABEL } from '../core/containers.js';
import { realClock, type CronClock } from '../cron/jobs.js';
import type { BackupRef } from '../store/backups-repo.js';
import { createBackupRunner, type BackupRunnerDeps } from './runner.js';
import type { Busy } from './busy.js';
import { BACKUP_KIND, sourceMissing } from './sources.js';

export interface ServiceRef {
  service: string;
  destination: string;
}

export interface BackupServiceDeps extends BackupRunnerDeps {
  clock?: CronClock;
}

export interface BackupService {
  start(): Promise<void>;
  /** Re-reads every service's current release (called as each deploy ends). */
  refresh(): void;
  /** `deploy backup run`: 404 when the current release here has no such backup; 409/429 before it starts. */
  runNow(ref: BackupRef, keyId: string, onStart?: (r: BackupRecord) => void): Promise<BackupRecord>;
  /** The deploy's before_deploy backups of `next` (the new release); throws with the reason when one failed. */
  beforeDeploy(next: ManifestPayload, live: string | null, say: (message: string) => void): Promise<void>;
  statuses(ref: ServiceRef): BackupStatus[];
  /** `deploy remove`: timers cancelled, schedule state forgotten; rows and files stay. */
  serviceRemoved(ref: ServiceRef): void;
  stop(): Promise<void>;
  /** One run or restore of a backup at a time (the restore takes the same claim). */
  busy: Busy;
  roots: readonly string[];
}

interface Entry {
  key: string;
  ref: BackupRef;
  spec: BackupSpec;
  schedule: CronSchedule;
  nextAt: number | null;
  cancel?: (() => void) | undefined;
}

/** A backup's directory is `<path below the root>/<service>/<backup>`: deep enough for any `path` a release is likely to name. */
const MAX_TEMP_DEPTH = 12;

const keyOf = (ref: BackupRef) => JSON.stringify([ref.service, ref.destination, ref.backup]);

export function createBackupService(deps: BackupServiceDeps): BackupService {
  const clock = deps.clock ?? realClock;
  const runner = createBackupRunner(deps);
  const entries = new Map<string, Entry>();
  let stopped = false;

  function current(ref: ServiceRef): ManifestPayload | undefined {
    const c = deps.store.current(ref.service, ref.destination);
    return c ? deps.store.getRelease(c.deploy_id)?.payload : undefined;
  }

  function background(ref: BackupRef, trigger: 'schedule' | 'catch-up'): void {
    const m = current(ref);
    const spec = m?.backups?.[ref.backup];
    if (!m || !spec) return;
    if (runner.busy.isBusy(ref) || !runner.hasSlot()) {
      deps.log.warn('backups: a scheduled run was skipped', { service: ref.service, backup: ref.backup, why: runner.busy.isBusy(ref) ? 'a run or restore of it is under way' : `${deps.maxRunning} backups run already` });
      return;
    }
    runner.run({ ref, manifest: m, spec, trigger, release: m.version, forRelease: null }).catch((e: unknown) =>
      deps.log.error('backups: a scheduled run failed to start', { service: ref.service, backup: ref.backup, err: e }));
  }

  function disarm(e: Entry): void {
    e.cancel?.();
    e.cancel = undefined;
    e.nextAt = null;
  }

  function arm(e: Entry, from: number): void {
    disarm(e);
    if (stopped) return;
    const slot = e.schedule.next(from);
    e.nextAt = slot;
    const wake = () => {
      if (entries.get(e.key) !== e || e.nextAt !== slot) return;
      const now = clock.now();
      if (now < slot - 1) {
        e.cancel = clock.after(slot - now, wake);
        return;
      }
      deps.store.backups.setLastSlot(e.ref, slot);
      arm(e, Math.max(slot, now));
      background(e.ref, 'schedule');
    };
    e.cancel = clock.after(slot - clock.now(), wake);
  }

  function refresh(): void {
    if (stopped) return;
    const wanted = new Set<string>();
    for (const s of deps.store.services()) {
      if (!s.current) continue;
      const backups = deps.store.getRelease(s.current.deploy_id)?.payload.backups ?? {};
      for (const [backup, spec] of Object.entries(backups)) {
        if (spec.schedule === undefined) continue;
        const ref = { service: s.name, destination: s.destination, backup };
        const key = keyOf(ref);
        wanted.add(key);
        const old = entries.get(key);
        if (old && old.spec.schedule === spec.schedule && old.spec.timezone === spec.timezone) {
          old.spec = spec;
          continue;
        }
        if (old) disarm(old);
        let schedule: CronSchedule;
        try {
          schedule = parseCronSchedule(spec.schedule, spec.timezone);
        } catch (e) {
          deps.log.error('backups: a stored schedule no longer parses; the backup is not scheduled', { service: s.name, backup, err: e });
          continue;
        }
        const entry: Entry = { key, ref, spec, schedule, nextAt: null };
        entries.set(key, entry);
        // A new schedule has missed nothing yet.
        if (old || deps.store.backups.lastSlot(ref) == null) deps.store.backups.setLastSlot(ref, clock.now());
        arm(entry, clock.now());
      }
    }
    for (const [key, e] of entries) {
      if (wanted.has(key)) continue;
      disarm(e);
      entries.delete(key);
    }
  }

  function catchUp(): void {
    const now = clock.now();
    for (const e of entries.values()) {
      const last = deps.store.backups.lastSlot(e.ref);
      if (last === null || last === undefined || e.schedule.next(last) > now) continue;
      deps.store.backups.setLastSlot(e.ref, now);
      background(e.ref, 'catch-up');
    }
  }

  /** Temp files runs cut short by the process ending left behind, anywhere under the roots (symlinks not followed). */
  async function removeTemps(dir: string, depth: number): Promise<void> {
    const found = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const d of found) {
      const path = posix.join(dir, d.name);
      if (d.isFile() && d.name.startsWith(TEMP_PREFIX)) await rm(path, { force: true });
      else if (d.isDirectory() && depth < MAX_TEMP_DEPTH) await removeTemps(path, depth + 1);
    }
  }

  const onFinal = (_r: DeployRecord) => {
    try {
      refresh();
    } catch (e) {
      deps.log.error('backups: reading the schedules failed', { err: e });
    }
  };

  function requireBackup(ref: BackupRef): { m: ManifestPayload; spec: BackupSpec } {
    const m = current(ref);
    const spec = m?.backups?.[ref.backup];
    if (!m || !spec) {
      const names = Object.keys(m?.backups ?? {}).sort();
      throw new NotFoundError(
        `backup ${ref.backup} is not in the current release of ${manifestSubject(ref.service, ref.destination)} on this agent`,
        names.length > 0 ? `its backups here: ${names.join(', ')}` : 'the current release has no backups on this agent',
      );
    }
    return { m, spec };
  }

  return {
    async start() {
      const interrupted = deps.store.backups.interruptRunning('the agent stopped during the run', (r) => ({
        keyId: AGENT_ACTOR, action: 'backup.failed', service: r.service, destination: r.destination,
        detail: { backup: r.backup, id: r.id, trigger: r.trigger, outcome: r.outcome, reason: r.reason, release: r.release },
      }));
      if (interrupted.length > 0) deps.log.warn('backups: runs were interrupted by the agent stopping', { ids: interrupted.map((r) => r.id) });
      for (const root of deps.roots) await removeTemps(root, 0).catch((e: unknown) => deps.log.warn('backups: could not remove leftover temp files', { root, err: e }));
      try {
        for (const c of await deps.docker.listContainers({ [LABEL.kind]: BACKUP_KIND }, true)) await deps.docker.remove(c.id, { force: true });
      } catch (e) {
        deps.log.warn('backups: could not remove leftover archive containers', { err: e });
      }
      refresh();
      catchUp();
      deps.store.bus.on('final', onFinal);
    },
    refresh,
    runNow(ref, keyId, onStart) {
      const { m, spec } = requireBackup(ref);
      return runner.run({ ref, manifest: m, spec, trigger: 'manual', release: m.version, forRelease: null, keyId, ...(onStart ? { onStart } : {}) });
    },
    async beforeDeploy(next, live, say) {
      if (live === null) {
        if (Object.values(next.backups ?? {}).some((b) => b.before_deploy)) say('before_deploy backups: skipped, this is the first deploy of the service here');
        return;
      }
      for (const [backup, spec] of Object.entries(next.backups ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
        if (!spec.before_deploy) continue;
        const ref = { service: next.service, destination: next.destination, backup };
        const missing = await sourceMissing(deps, next, spec);
        if (missing !== undefined) {
          say(`backup ${backup}: skipped before the switch, ${missing}`);
          continue;
        }
        const record = await runner.run({
          ref, manifest: next, spec, trigger: 'before_deploy', release: live, forRelease: next.version,
          onStart: (r) => say(`backup ${backup}: taking #${r.id} before the switch`),
        });
        if (record.outcome !== 'ok') throw new Error(`backup ${backup} (#${record.id}) failed before the switch: ${record.reason}`);
        say(`backup ${backup}: #${record.id} stored (${record.size} bytes)`);
      }
    },
    statuses(ref) {
      const m = current(ref);
      const out: BackupStatus[] = [];
      for (const [name, spec] of Object.entries(m?.backups ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
        const bref = { ...ref, backup: name };
        const where = backupDir(deps.roots, bref, spec);
        const last = deps.store.backups.list(bref, 1)[0]?.record ?? null;
        out.push({
          name, kind: spec.kind, source: spec.kind === 'accessory' ? (spec.accessory as string) : ((spec.volume ?? spec.directory) as string),
          schedule: spec.schedule ?? null, timezone: spec.timezone, next_run: nextRun(entries.get(keyOf(bref))),
          keep: spec.keep, max_age: spec.max_age ?? null, compression: spec.compression, encrypted: spec.recipient !== undefined,
          verify: spec.verify !== undefined, before_deploy: spec.before_deploy, path: 'dir' in where ? where.dir : where.problem,
          running: runner.busy.isBusy(bref), last, newest_good: deps.store.backups.newestGood(bref)?.record.id ?? null,
        });
      }
      return out;
    },
    serviceRemoved(ref) {
      for (const [key, e] of entries) {
        if (e.ref.service !== ref.service || e.ref.destination !== ref.destination) continue;
        disarm(e);
        entries.delete(key);
      }
      deps.store.backups.forgetSchedules(ref.service, ref.destination);
    },
    async stop() {
      stopped = true;
      deps.store.bus.off('final', onFinal);
      for (const e of entries.values()) disarm(e);
      await runner.stop();
    },
    busy: runner.busy,
    roots: deps.roots,
  };
}

function nextRun(e: Entry | undefined): string | null {
  return e?.nextAt == null ? null : new Date(e.nextAt).toISOString();
}
