// What `deploy cron list|history|pause|resume` print, as strings made from
// the agents' answers. A failed last run and an overdue job are written in
// capitals (and red on a colour terminal) so they stand out in a long table.

import { FAILED_CRON_OUTCOMES, type CronJobStatus, type CronRun, type CronRunSummary } from '../../shared/api-types.js';
import type { CronJobsResponse } from '../../shared/api-responses.js';
import { renderTable } from '../output/table.js';
import { sanitize, type Style } from '../output/style.js';

/** One server's answer: its jobs (null: no current release there), or the error it gave. */
export interface HostCron {
  host: string;
  cron: CronJobsResponse | null;
  error?: string;
}

export interface HostRuns {
  host: string;
  /** null: the job is not on that server. */
  runs: CronRun[] | null;
  error?: string;
}

export const cronTime = (iso: string | null) => (iso && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '-');

/** `850ms`, `12.3s`, `4m05s`, `2h07m`. */
export function cronDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `succeeded (exit 0)`, `FAILED (exit 3)`, `TIMED_OUT`, `running`: a failure in capitals and red. */
export function cronResult(run: CronRunSummary, style: Style, withExit = true): string {
  const exit = run.exit_code === null || !withExit ? '' : ` (exit ${run.exit_code})`;
  if (FAILED_CRON_OUTCOMES.has(run.outcome)) return style.red(`${run.outcome.toUpperCase()}${exit}`);
  if (run.outcome === 'succeeded') return style.green(`succeeded${exit}`);
  return `${run.outcome}${exit}`;
}

export function cronSchedule(job: Pick<CronJobStatus, 'schedule' | 'timezone'>): string {
  const tz = job.timezone === 'UTC' || job.timezone === 'Etc/UTC' ? '' : ` (${job.timezone})`;
  return sanitize(`${job.schedule}${tz}`, 120);
}

function flags(job: CronJobStatus, style: Style): string {
  const out: string[] = [];
  if (job.overdue) out.push(style.red('OVERDUE'));
  if (job.paused) out.push(style.yellow('paused'));
  if (job.running > 0) out.push(`running${job.running > 1 ? ` ×${job.running}` : ''}`);
  return out.length ? out.join(', ') : '-';
}

/** `deploy cron list`: one row per server and job; a server without jobs (or unreachable) gets one row saying so. */
export function renderCronList(hosts: HostCron[], style: Style): string {
  const rows: string[][] = [];
  const none = (h: string, why: string) => rows.push([h, '-', '-', '-', '-', '-', '-', why]);
  for (const h of hosts) {
    if (h.error !== undefined) none(h.host, style.red(`error: ${sanitize(h.error, 300)}`));
    else if (!h.cron || h.cron.release === null) none(h.host, 'no current release');
    else if (h.cron.jobs.length === 0) none(h.host, 'no cron jobs');
    else {
      for (const job of h.cron.jobs) {
        const last = job.last_run;
        rows.push([
          h.host, sanitize(job.name, 80), cronSchedule(job), cronTime(job.next_run), last ? cronTime(last.started_at) : '-',
          last ? cronResult(last, style) : 'never run', last ? cronDuration(last.duration_ms) : '-', flags(job, style),
        ]);
      }
    }
  }
  return renderTable(['HOST', 'JOB', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'LAST RESULT', 'DURATION', 'FLAGS'], rows);
}

/** The output tail of a run, indented under its row. */
function outputBlock(run: CronRun): string {
  const text = run.output.replace(/\n$/, '');
  if (text === '') return '    (no output)';
  const lines = text.split('\n').map((l) => `    | ${sanitize(l, 2000)}`);
  return [...(run.output_truncated ? ['    | … (earlier output not kept)'] : []), ...lines].join('\n');
}

/** `deploy cron history JOB`: per server, newest first; `withOutput` adds each run's output tail under its row. */
export function renderCronHistory(job: string, hosts: HostRuns[], style: Style, withOutput: boolean): string {
  const headers = ['HOST', 'STARTED', 'TRIGGER', 'OUTCOME', 'EXIT', 'DURATION', 'RELEASE', 'REASON'];
  const none = (h: string, why: string): string[] => [h, '-', '-', '-', '-', '-', '-', why];
  const row = (h: string, r: CronRun): string[] => [
    h, cronTime(r.started_at), r.attempt > 1 ? `${r.trigger} #${r.attempt}` : r.trigger, cronResult(r, style, false),
    r.exit_code === null ? '-' : String(r.exit_code), cronDuration(r.duration_ms), sanitize(r.release, 80), sanitize(r.reason, 300) || '-',
  ];
  const rows: Array<{ cells: string[]; run?: CronRun }> = [];
  for (const h of hosts) {
    if (h.error !== undefined) rows.push({ cells: none(h.host, style.red(`error: ${sanitize(h.error, 300)}`)) });
    else if (!h.runs) rows.push({ cells: none(h.host, `no job ${sanitize(job, 80)} here`) });
    else if (h.runs.length === 0) rows.push({ cells: none(h.host, 'no runs yet') });
    else for (const r of h.runs) rows.push({ cells: row(h.host, r), run: r });
  }
  const table = renderTable(headers, rows.map((r) => r.cells)).trimEnd().split('\n');
  if (!withOutput) return `${table.join('\n')}\n`;
  const out = [table[0] as string];
  rows.forEach((r, i) => {
    out.push(table[i + 1] as string);
    if (r.run) out.push(outputBlock(r.run));
  });
  return `${out.join('\n')}\n`;
}

/** `deploy cron pause|resume`: per server, what is paused now. */
export function renderCronPaused(hosts: HostCron[], style: Style): string {
  return renderTable(['HOST', 'PAUSED'], hosts.map((h) => {
    if (h.error !== undefined) return [h.host, style.red(`error: ${sanitize(h.error, 300)}`)];
    if (!h.cron || h.cron.release === null) return [h.host, 'no current release'];
    if (h.cron.paused) return [h.host, style.yellow('all jobs')];
    const paused = h.cron.jobs.filter((j) => j.paused).map((j) => sanitize(j.name, 80));
    return [h.host, paused.length ? style.yellow(paused.join(', ')) : 'nothing'];
  }));
}
