// What `deploy cron list` shows of one service on this agent: each job of the
// current release, when it runs next, how its last run ended, and whether it
// is overdue: two slots have passed since its last success (since it was
// first scheduled here, if it never succeeded) and the second one's run has
// had its timeout, so it has not succeeded within twice its interval.
import type { CronJobStatus } from '../../shared/api-types.js';
import type { CronJobsResponse } from '../../shared/api-responses.js';
import { parseCronSchedule, type CronSchedule } from '../../shared/cron-schedule.js';
import type { CronJobSpec } from '../../shared/manifest-cron.js';
import type { Store } from '../store/index.js';
import { WHOLE_SERVICE } from '../store/cron-repo.js';
import { jobKey, type JobEntry } from './jobs.js';
import type { ServiceRef } from './scheduler.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function cronStatus(store: Store, entries: readonly JobEntry[], ref: ServiceRef, now: number): CronJobsResponse {
  const servicePaused = store.cron.state({ ...ref, job: WHOLE_SERVICE })?.paused === true;
  const current = store.current(ref.service, ref.destination);
  const manifest = current ? store.getRelease(current.deploy_id)?.payload : undefined;
  if (!current || !manifest) return { release: null, paused: servicePaused, jobs: [] };
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const jobs: CronJobStatus[] = Object.entries(manifest.cron ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, spec]) => {
      const jobRef = { ...ref, job: name };
      const entry = byKey.get(jobKey(jobRef));
      const state = store.cron.state(jobRef);
      const paused = servicePaused || state?.paused === true;
      const { last, lastSuccessAt } = store.cron.lastRuns(jobRef);
      // The later of the last success and when it was scheduled here (or last resumed).
      const since = Math.max(lastSuccessAt ?? 0, state?.since ?? now);
      const overdue = !paused && now > overdueAt(entry, spec, since);
      let lastRun: CronJobStatus['last_run'] = null;
      if (last) {
        const { output: _output, ...summary } = last;
        lastRun = summary;
      }
      return {
        name,
        schedule: spec.schedule,
        timezone: spec.timezone,
        command: spec.command,
        role: spec.role,
        concurrency: spec.concurrency,
        timeout: spec.timeout,
        retries: spec.retries,
        hosts: spec.hosts,
        paused,
        next_run: paused ? null : iso(entry?.nextAt ?? null),
        running: entry?.running.size ?? 0,
        last_run: lastRun,
        last_success_at: iso(lastSuccessAt),
        overdue,
      };
    });
  return { release: current.version, paused: servicePaused, jobs };
}

/** When a job that last succeeded (or was first scheduled) at `since` becomes overdue; remembered on its entry. */
function overdueAt(entry: JobEntry | undefined, spec: CronJobSpec, since: number): number {
  if (entry?.overdue?.since === since) return entry.overdue.at;
  let at = Number.POSITIVE_INFINITY;
  try {
    const schedule: CronSchedule = entry?.schedule ?? parseCronSchedule(spec.schedule, spec.timezone);
    at = schedule.next(schedule.next(since)) + spec.timeout * 1000;
  } catch {
    // A slot beyond what cron looks for (8 years): never overdue in any time that matters.
  }
  if (entry) entry.overdue = { since, at };
  return at;
}
