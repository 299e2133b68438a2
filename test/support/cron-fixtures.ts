// Cron wire records as agents answer them, for the CLI's cron tests: a job
// status and a run, each with overridable fields.
import type { CronJobStatus, CronRun, CronRunSummary } from '../../shared/api-types.js';

export function cronRun(overrides: Partial<CronRun> = {}): CronRun {
  return {
    id: 1, service: 'demo', destination: '', job: 'nightly', trigger: 'schedule', attempt: 1,
    scheduled_at: '2026-11-22T03:00:00.000Z', started_at: '2026-11-22T03:00:00.120Z', ended_at: '2026-11-22T03:00:04.320Z', duration_ms: 4200,
    outcome: 'succeeded', exit_code: 0, reason: '', release: 'v2', image: 'registry.test/demo@sha256:' + 'a'.repeat(64),
    output: 'done\n', output_truncated: false, notify: null,
    ...overrides,
  };
}

export function cronSummary(overrides: Partial<CronRun> = {}): CronRunSummary {
  const { output: _output, ...summary } = cronRun(overrides);
  return summary;
}

export function cronJob(overrides: Partial<CronJobStatus> = {}): CronJobStatus {
  return {
    name: 'nightly', schedule: '0 3 * * *', timezone: 'UTC', command: ['bin/rake', 'nightly'], role: 'web', concurrency: 'forbid',
    timeout: 600, retries: 0, hosts: 'one', paused: false, next_run: '2026-11-23T03:00:00.000Z', running: 0,
    last_run: cronSummary(), last_success_at: '2026-11-22T03:00:04.320Z', overdue: false,
    ...overrides,
  };
}
