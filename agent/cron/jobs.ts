// The scheduler's view of one job, and of time. Shared by the scheduler (timers),
// the launcher (runs) and the status answer.
import type { CronSchedule } from '../../shared/cron-schedule.js';
import type { CronJobSpec } from '../../shared/manifest-cron.js';
import type { CronJobRef } from '../store/cron-repo.js';
import type { CronRunHandle } from './runner.js';

/** Where the scheduler keeps time; real timers (unref'd) unless a test drives a fake clock. */
export interface CronClock {
  now(): number;
  /** Calls `fn` after `ms`; returns the cancel. */
  after(ms: number, fn: () => void): () => void;
}

// setTimeout holds at most 2^31-1 ms (24.8 days); a yearly job's wait is re-armed in steps.
const MAX_TIMER_MS = 2 ** 30;

export const realClock: CronClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    t.unref();
    return () => clearTimeout(t);
  },
};

/** A run under way: its handle, and the promise that settles once its row is written. */
export interface RunningRun {
  handle: CronRunHandle;
  settled: Promise<void>;
}

export interface JobEntry {
  key: string;
  ref: CronJobRef;
  /** The job as the current release has it. */
  spec: CronJobSpec;
  schedule: CronSchedule;
  /** When it counts as overdue, for the `since` it was computed from (each next date costs cron up to ms: not per status request). */
  overdue?: { since: number; at: number } | undefined;
  /** The slot the timer waits for; null while paused. */
  nextAt: number | null;
  cancelTimer?: (() => void) | undefined;
  cancelRetry?: (() => void) | undefined;
  running: Map<number, RunningRun>;
}

export function jobKey(ref: CronJobRef): string {
  return JSON.stringify([ref.service, ref.destination, ref.job]);
}
