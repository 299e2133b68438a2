// deploy cron list|history|pause|resume: the agent-run cron jobs of the
// service, asked of every server. A job lives only on the servers the CLI
// sent it to (`hosts: one` → the role's first server), so commands naming a
// JOB first find the servers whose job list holds it (locateJob).

import type { CronJobsResponse } from '../../shared/api-responses.js';
import { NotFoundError, UserError } from '../../shared/errors.js';
import { NAME } from '../../shared/manifest-names.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import { readCronJobs, readCronRuns, setCronPaused } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer, type Fleet } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson, type HostOutcome } from '../rollout/hosts.js';
import { renderCronHistory, renderCronList, renderCronPaused, type HostCron, type HostRuns } from './cron-render.js';

const DEFAULT_RUNS = 20;
const MAX_RUNS = 200;

/** A JOB argument: a job name as the manifest allows them; anything else is a usage error before any server is asked. */
export function checkJobName(job: string): string {
  if (!NAME.test(job)) throw new UserError(`"${job.slice(0, 70)}" is not a cron job name (1-63 of a-z, 0-9, "-", "_")`, 'deploy cron list shows the jobs', 'usage');
  return job;
}

export function runCount(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_RUNS;
  const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_RUNS)) throw new UserError(`-n must be a whole number from 1 to ${MAX_RUNS}, not "${raw.slice(0, 20)}"`, undefined, 'usage');
  return n;
}

export interface JobLocation {
  /** The servers whose current release has the job. */
  servers: ServerAddress[];
  /** Every server's answer to GET …/cron. */
  outcomes: Array<HostOutcome<CronJobsResponse | null>>;
}

/** The jobs the servers know, sorted, for "no job X (jobs: a, b)". */
export function knownJobs(outcomes: ReadonlyArray<HostOutcome<CronJobsResponse | null>>): string[] {
  return [...new Set(outcomes.flatMap((o) => (o.ok && o.value ? o.value.jobs.map((j) => j.name) : [])))].sort();
}

/**
 * The servers that carry `job`. None: a server that could not be asked ends
 * the command with its error (it may be the one carrying the job), else a
 * not-found error naming the jobs that exist.
 */
export async function locateJob(fleet: Fleet, job: string): Promise<JobLocation> {
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readCronJobs(client, { service, destination }));
  const carrying = new Set(outcomes.filter((o) => o.ok && o.value?.jobs.some((j) => j.name === job)).map((o) => o.host));
  const servers = fleet.config.servers.filter((a) => carrying.has(formatServerAddress(a)));
  if (servers.length === 0) {
    const failure = hostsFailure(outcomes, { doing: `find cron job ${job}` });
    if (failure) throw failure;
    const known = knownJobs(outcomes);
    throw new NotFoundError(
      `no server runs a cron job named ${job} (${known.length ? `jobs: ${known.join(', ')}` : 'the current release has no cron jobs'})`,
      'deploy cron list shows the jobs of every server',
    );
  }
  return { servers, outcomes };
}

const asHostCron = (o: HostOutcome<CronJobsResponse | null>) => outcomeJson(o, 'cron') as HostCron;

export async function cronList(ctx: RunContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readCronJobs(client, { service, destination }));
  const rows = outcomes.map(asHostCron);
  if (ctx.json) ctx.printer.json({ service, destination, servers: rows });
  else ctx.printer.out(renderCronList(rows, ctx.style));
  const failure = hostsFailure(outcomes, { doing: 'read the cron jobs' });
  if (failure) throw failure;
}

export async function cronHistory(ctx: RunContext, options: { job: string; lines: string | undefined; output: boolean }): Promise<void> {
  const job = checkJobName(options.job);
  const limit = runCount(options.lines);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const { servers } = await locateJob(fleet, job);
  const outcomes = await onEveryServer(fleet, (client) => readCronRuns(client, { service, destination }, job, limit), { servers });
  const rows = outcomes.map((o) => outcomeJson(o, 'runs') as HostRuns);
  if (ctx.json) ctx.printer.json({ service, destination, job, servers: rows });
  else ctx.printer.out(renderCronHistory(job, rows, ctx.style, options.output));
  const failure = hostsFailure(outcomes, { doing: `read the runs of ${job}` });
  if (failure) throw failure;
}

/**
 * Pauses (or resumes) one job on the servers that carry it, or every job of
 * the service on every server; prints what is paused afterwards.
 */
export async function cronPause(ctx: RunContext, options: { job: string | undefined; paused: boolean }): Promise<void> {
  const job = options.job === undefined ? undefined : checkJobName(options.job);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const servers = job === undefined ? fleet.config.servers : (await locateJob(fleet, job)).servers;
  const outcomes = await onEveryServer(fleet, (client) => setCronPaused(client, { service, destination }, job, options.paused), { servers });
  const rows = outcomes.map(asHostCron);
  const verb = options.paused ? 'pause' : 'resume';
  if (ctx.json) ctx.printer.json({ service, destination, job: job ?? null, servers: rows });
  else {
    const done = outcomes.filter((o) => o.ok).length;
    ctx.printer.err(`${options.paused ? 'paused' : 'resumed'} ${job ?? 'every cron job'} on ${done} of ${outcomes.length} server(s)`);
    ctx.printer.out(renderCronPaused(rows, ctx.style));
  }
  const failure = hostsFailure(outcomes, { doing: `${verb} ${job ?? 'the cron jobs'}` });
  if (failure) throw failure;
}
