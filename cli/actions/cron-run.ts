// deploy cron run JOB: runs the job now on the servers that carry it,
// streaming its output (led by the host when there are several), and exits
// with the job's exit code (one server) or 1 when any server's run failed.

import type { CronRunSummary } from '../../shared/api-types.js';
import type { CronJobsResponse } from '../../shared/api-responses.js';
import { UpstreamError } from '../../shared/errors.js';
import { runCronJob } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { createPrefixedWriter } from '../output/prefixed-writer.js';
import { sanitize } from '../output/style.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostError, type HostFailure } from '../rollout/hosts.js';
import { checkJobName, locateJob } from './cron.js';

/** The agent sends a keepalive every 15 s while a job is quiet. */
const IDLE_MS = 60_000;

/** 0 for a success; a failed run's own non-zero code; 1 for every other end (timed out, could not start, skipped…). */
export function cronRunExitCode(run: Pick<CronRunSummary, 'outcome' | 'exit_code'>): number {
  if (run.outcome === 'succeeded') return 0;
  if (run.outcome === 'failed' && typeof run.exit_code === 'number' && run.exit_code > 0 && run.exit_code < 256) return run.exit_code;
  return 1;
}

/** The line on stderr for a run that did not succeed: `HOST: nightly timed_out (exit 137): killed after 60s`. */
export function cronRunFailureLine(host: string, job: string, run: Pick<CronRunSummary, 'outcome' | 'exit_code' | 'reason'>): string {
  const exit = run.exit_code === null ? '' : ` (exit ${run.exit_code})`;
  const reason = run.reason ? `: ${sanitize(run.reason, 500)}` : '';
  return `${host}: ${job} ${run.outcome}${exit}${reason}`;
}

export async function cronRun(ctx: RunContext, options: { job: string }): Promise<number> {
  const job = checkJobName(options.job);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const { servers, outcomes: asked } = await locateJob(fleet, job);
  const unasked = asked.filter((o): o is HostFailure<CronJobsResponse | null> => !o.ok);
  const many = servers.length > 1;
  const errRaw = ctx.printer.errRaw ?? ctx.printer.err;
  const raw = (stream: string, text: string) => (stream === 'stderr' ? errRaw(text) : ctx.printer.outRaw(text));

  const outcomes = await onEveryServer(fleet, async (client, host) => {
    const out = many ? createPrefixedWriter(raw, host) : { push: raw, end: () => undefined };
    let summary: CronRunSummary | undefined;
    try {
      for await (const record of runCronJob(client, { service, destination }, job, IDLE_MS)) {
        if ('run' in record) summary = record.run;
        else if (ctx.json) ctx.printer.json({ host, stream: record.stream, data: record.data });
        else out.push(record.stream, record.data);
      }
    } finally {
      out.end();
    }
    if (!summary) throw new UpstreamError(`${host}: the run's output ended without its result`);
    if (ctx.json) ctx.printer.json({ host, run: summary });
    else if (summary.outcome !== 'succeeded') ctx.printer.err(cronRunFailureLine(host, job, summary));
    return summary;
  }, { servers });

  // A server that could not be asked may carry the job too: it was not run there.
  for (const f of unasked) if (!ctx.json) ctx.printer.err(`${hostError(f)} (could not ask whether it runs ${job}; not run there)`);
  if (!many && unasked.length === 0) {
    const [only] = outcomes;
    if (only && !only.ok) throw only.cause;
    return only?.ok ? cronRunExitCode(only.value) : 1;
  }
  const failed = outcomes.filter((o) => !o.ok);
  for (const f of failed) if (!ctx.json && !f.ok) ctx.printer.err(hostError(f));
  if (failed.length > 0) throw new UpstreamError(`${job} could not run on ${failed.length} of ${outcomes.length} servers: ${failed.map((f) => f.host).join(', ')}`);
  if (unasked.length > 0) throw new UpstreamError(`could not ask ${unasked.map((f) => f.host).join(', ')} whether it runs ${job}`);
  return outcomes.every((o) => o.ok && o.value.outcome === 'succeeded') ? 0 : 1;
}
