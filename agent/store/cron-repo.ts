// Cron runs and per-job state (agent/cron/). Runs: the last MAX_CRON_RUNS per
// job, pruned on insert. State: whether a job (or, with job '', the whole
// service) is paused, and the last scheduled slot the agent handled, from which
// a restart tells whether it missed one. Times are ms since the epoch here and
// ISO 8601 on the wire.
import type { EventEmitter } from 'node:events';
import type { CronOutcome, CronRun, CronTrigger } from '../../shared/api-types.js';
import { insertAudit, type AuditInput } from './audit-repo.js';
import type { Db } from './db.js';

export const MAX_CRON_RUNS = 200;
/** The job name of a state row that pauses every job of the service. */
export const WHOLE_SERVICE = '';
const MAX_REASON_CHARS = 1000;

export interface CronJobRef {
  service: string;
  destination: string;
  job: string;
}

export interface NewCronRun extends CronJobRef {
  trigger: CronTrigger;
  attempt: number;
  scheduledAt: number | null;
  release: string;
  image: string;
  /** `running`, or `skipped` for a run that never starts (then `reason` says why). */
  outcome: 'running' | 'skipped';
  reason?: string;
}

export interface CronRunEnd {
  outcome: Exclude<CronOutcome, 'running'>;
  exitCode: number | null;
  reason: string;
  output: string;
  outputTruncated: boolean;
  /** Recorded in the same transaction: a failed run's audit row. */
  audit?: AuditInput;
}

export interface CronJobState {
  paused: boolean;
  lastSlot: number | null;
  since: number;
}

interface RunRow {
  id: number; service: string; destination: string; job: string; trigger: string; attempt: number;
  scheduled_at: number | null; started_at: number; ended_at: number | null; outcome: string;
  exit_code: number | null; reason: string; release: string; image: string; output: string;
  output_truncated: number; notify: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const bounded = (text: string) => (text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text);

function toRun(r: RunRow): CronRun {
  return {
    id: r.id, service: r.service, destination: r.destination, job: r.job,
    trigger: r.trigger as CronTrigger, attempt: r.attempt,
    scheduled_at: iso(r.scheduled_at), started_at: iso(r.started_at) as string, ended_at: iso(r.ended_at),
    duration_ms: r.ended_at === null ? null : r.ended_at - r.started_at,
    outcome: r.outcome as CronOutcome, exit_code: r.exit_code, reason: r.reason,
    release: r.release, image: r.image, output: r.output, output_truncated: r.output_truncated === 1, notify: r.notify,
  };
}

/** The bus event of a run that ended (skipped ones included), after its transaction committed. */
export const CRON_RUN_ENDED = 'cron-run-ended';

export function createCronRepo(db: Db, now: () => number, bus?: EventEmitter) {
  const getRun = (id: number): CronRun | undefined => {
    const row = db.get<RunRow & Record<string, unknown>>('SELECT * FROM cron_runs WHERE id = ?', id);
    return row ? toRun(row) : undefined;
  };
  return {
    /** Inserts a run and drops the job's oldest beyond MAX_CRON_RUNS. */
    startRun(r: NewCronRun): CronRun {
      const t = now();
      const run = db.transaction(() => {
        const { lastInsertRowid } = db.run(
          `INSERT INTO cron_runs (service, destination, job, trigger, attempt, scheduled_at, started_at, ended_at, outcome, reason, release, image)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          r.service, r.destination, r.job, r.trigger, r.attempt, r.scheduledAt, t, r.outcome === 'skipped' ? t : null,
          r.outcome, bounded(r.reason ?? ''), r.release, r.image,
        );
        db.run(
          `DELETE FROM cron_runs WHERE service = ? AND destination = ? AND job = ? AND id <= (
             SELECT id FROM cron_runs WHERE service = ? AND destination = ? AND job = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
          r.service, r.destination, r.job, r.service, r.destination, r.job, MAX_CRON_RUNS,
        );
        return getRun(lastInsertRowid) as CronRun;
      });
      if (run.outcome === 'skipped') bus?.emit(CRON_RUN_ENDED, run);
      return run;
    },
    /** Ends a running run (a run already ended keeps its first ending). */
    finishRun(id: number, end: CronRunEnd): CronRun | undefined {
      const ended = db.transaction(() => {
        const changed = db.run(
          `UPDATE cron_runs SET ended_at = ?, outcome = ?, exit_code = ?, reason = ?, output = ?, output_truncated = ?
           WHERE id = ? AND outcome = 'running'`,
          now(), end.outcome, end.exitCode, bounded(end.reason), end.output, end.outputTruncated ? 1 : 0, id,
        ).changes;
        if (changed === 1 && end.audit) insertAudit(db, now(), end.audit);
        return { run: getRun(id), changed };
      });
      if (ended.changed === 1 && ended.run) bus?.emit(CRON_RUN_ENDED, ended.run);
      return ended.run;
    },
    setNotify(id: number, text: string): void {
      db.run('UPDATE cron_runs SET notify = ? WHERE id = ?', bounded(text), id);
    },
    getRun,
    /** Newest first. */
    runs(ref: CronJobRef, limit: number): CronRun[] {
      return db
        .all<RunRow & Record<string, unknown>>(
          'SELECT * FROM cron_runs WHERE service = ? AND destination = ? AND job = ? ORDER BY id DESC LIMIT ?',
          ref.service, ref.destination, ref.job, limit,
        )
        .map(toRun);
    },
    /** The newest run that is not a skip, and the end of the newest success. */
    lastRuns(ref: CronJobRef): { last: CronRun | undefined; lastSuccessAt: number | null } {
      const last = db.get<RunRow & Record<string, unknown>>(
        `SELECT * FROM cron_runs WHERE service = ? AND destination = ? AND job = ? AND outcome != 'skipped' ORDER BY id DESC LIMIT 1`,
        ref.service, ref.destination, ref.job,
      );
      const ok = db.get<{ ended_at: number }>(
        `SELECT ended_at FROM cron_runs WHERE service = ? AND destination = ? AND job = ? AND outcome = 'succeeded' ORDER BY id DESC LIMIT 1`,
        ref.service, ref.destination, ref.job,
      );
      return { last: last ? toRun(last) : undefined, lastSuccessAt: ok?.ended_at ?? null };
    },
    /** Runs a previous agent process left `running`: it stopped during them. */
    interruptRunning(reason: string, auditFor: (run: CronRun) => AuditInput): CronRun[] {
      const interrupted = db.transaction(() => {
        const rows = db.all<RunRow & Record<string, unknown>>(`SELECT * FROM cron_runs WHERE outcome = 'running'`).map(toRun);
        for (const run of rows) {
          db.run(`UPDATE cron_runs SET ended_at = ?, outcome = 'interrupted', reason = ? WHERE id = ?`, now(), reason, run.id);
          insertAudit(db, now(), auditFor({ ...run, outcome: 'interrupted', reason }));
        }
        return rows.map((r) => getRun(r.id) as CronRun);
      });
      for (const run of interrupted) bus?.emit(CRON_RUN_ENDED, run);
      return interrupted;
    },
    state(ref: CronJobRef): CronJobState | undefined {
      const row = db.get<{ paused: number; last_slot: number | null; since: number }>(
        'SELECT paused, last_slot, since FROM cron_state WHERE service = ? AND destination = ? AND job = ?',
        ref.service, ref.destination, ref.job,
      );
      return row ? { paused: row.paused === 1, lastSlot: row.last_slot, since: row.since } : undefined;
    },
    /** Creates the job's state row (not paused, no slot yet) unless it exists; returns it. */
    ensureState(ref: CronJobRef): CronJobState {
      db.run(
        'INSERT OR IGNORE INTO cron_state (service, destination, job, paused, last_slot, since) VALUES (?, ?, ?, 0, NULL, ?)',
        ref.service, ref.destination, ref.job, now(),
      );
      return this.state(ref) as CronJobState;
    },
    setLastSlot(ref: CronJobRef, slot: number): void {
      db.run('UPDATE cron_state SET last_slot = ? WHERE service = ? AND destination = ? AND job = ?', slot, ref.service, ref.destination, ref.job);
    },
    /** Pauses or resumes a job, or with job WHOLE_SERVICE the service; audited in the same transaction. */
    setPaused(ref: CronJobRef, paused: boolean, audit: AuditInput): void {
      db.transaction(() => {
        db.run(
          `INSERT INTO cron_state (service, destination, job, paused, last_slot, since) VALUES (?, ?, ?, ?, NULL, ?)
           ON CONFLICT (service, destination, job) DO UPDATE SET paused = excluded.paused`,
          ref.service, ref.destination, ref.job, paused ? 1 : 0, now(),
        );
        // A resumed job is judged overdue from now, not from before the pause.
        if (!paused && ref.job === WHOLE_SERVICE) {
          db.run('UPDATE cron_state SET paused = 0, since = ? WHERE service = ? AND destination = ?', now(), ref.service, ref.destination);
        } else if (!paused) {
          db.run('UPDATE cron_state SET since = ? WHERE service = ? AND destination = ? AND job = ?', now(), ref.service, ref.destination, ref.job);
        }
        insertAudit(db, now(), audit);
      });
    },
    /** Drops the state of jobs of the service that are not in `keep` (the current release's jobs). */
    forgetJobs(service: string, destination: string, keep: readonly string[]): void {
      const rows = db.all<{ job: string }>('SELECT job FROM cron_state WHERE service = ? AND destination = ?', service, destination);
      for (const { job } of rows) {
        if (job !== WHOLE_SERVICE && !keep.includes(job)) {
          db.run('DELETE FROM cron_state WHERE service = ? AND destination = ? AND job = ?', service, destination, job);
        }
      }
    },
    /** A removed service: its schedules' state and its run history go with it. */
    removeService(service: string, destination: string): void {
      db.transaction(() => {
        db.run('DELETE FROM cron_state WHERE service = ? AND destination = ?', service, destination);
        db.run('DELETE FROM cron_runs WHERE service = ? AND destination = ?', service, destination);
      });
    },
  };
}

export type CronRepo = ReturnType<typeof createCronRepo>;
