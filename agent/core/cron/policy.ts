// PURE: what cron jobs this agent lets releases schedule (berth-agent run
// --cron-min-interval, --cron-max-jobs), checked when a release is accepted so
// a refused one leaves nothing stored. The manifest schema has already checked
// each schedule, zone, role and timeout.
import { UserError } from '../../../shared/errors.js';
import { formatSeconds } from '../../../shared/manifest-cron.js';
import { parseCronSchedule } from '../../../shared/cron-schedule.js';
import type { ManifestPayload } from '../../../shared/manifest.js';

export interface CronPolicy {
  /** The shortest gap between two runs of a job, in seconds. */
  minIntervalS: number;
  /** Jobs scheduled on this agent, all services together. */
  maxJobs: number;
  /** Cron containers running at once. */
  maxRunning: number;
}

export const DEFAULT_CRON_POLICY: Readonly<CronPolicy> = Object.freeze({ minIntervalS: 1, maxJobs: 64, maxRunning: 8 });

/** Throws the 400 naming the job and the agent option when the release asks for more than the policy allows. */
export function checkCronPolicy(m: ManifestPayload, policy: CronPolicy, otherServicesJobs: number): void {
  const jobs = Object.entries(m.cron ?? {});
  for (const [name, job] of jobs) {
    const minMs = parseCronSchedule(job.schedule, job.timezone).minGapMs;
    if (minMs < policy.minIntervalS * 1000) {
      throw new UserError(
        `cron.${name}.schedule: ${JSON.stringify(job.schedule)} runs every ${formatSeconds(minMs / 1000)}; this agent runs a job at most once every ${formatSeconds(policy.minIntervalS)}`,
        'schedule it less often, or raise berth-agent run --cron-min-interval on the server',
        'cron_refused',
      );
    }
  }
  if (jobs.length > 0 && jobs.length + otherServicesJobs > policy.maxJobs) {
    throw new UserError(
      `cron: ${jobs.length} jobs for this service and ${otherServicesJobs} of other services exceed the ${policy.maxJobs} this agent schedules`,
      'remove jobs, or raise berth-agent run --cron-max-jobs on the server',
      'cron_refused',
    );
  }
}
