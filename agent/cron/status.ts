// What `deploy cron list` shows of one service on this agent: each job of the
// current release, when it runs next, how its last run ended, and whether it
// is overdue (no success within twice its longest interval — since it was
// first scheduled here, if it never succeeded).
import type { CronJobStatus } from '../../shared/api-types.js';
import type { CronJobsResponse } from '../../shared/api-responses.js';
import { parseCronSchedule, scheduleGaps } from '../../shared/cron-schedule.js';
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
      const since = lastSuccessAt ?? state?.since ?? now;
      let overdue = false;
      try {
        overdue = !paused && now - since > 2 * scheduleGaps(parseCronSchedule(spec.schedule, spec.timezone), now).maxMs;
      } catch {
        overdue = false;
      }
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
