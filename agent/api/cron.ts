// /v1/services/:name/cron…: the jobs of the current release on this agent
// (`deploy cron list`), a job's runs (`deploy cron history`), a run now
// (`deploy cron run`, NDJSON output then the recorded run) and pause/resume.
// Running a job needs `deploy`: it runs the release's own command, never one
// the caller chose. Every change is audited.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { CronRun } from '../../shared/api-types.js';
import type { CronJobsResponse, CronRunRecord, CronRunsResponse } from '../../shared/api-responses.js';
import { BerthError, NotFoundError, UserError } from '../../shared/errors.js';
import { describeIssues, manifestSubject } from '../../shared/manifest.js';
import { cronStatus } from '../cron/status.js';
import type { CronScheduler } from '../cron/scheduler.js';
import type { OutputChunkText } from '../cron/runner.js';
import { MAX_CRON_RUNS } from '../store/cron-repo.js';
import { requireToken } from './auth.js';
import { nowMs, type ApiDeps, type ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { ndjsonResponse } from './ndjson.js';
import { checkName, positive, requireDeployed, serviceQuery, serviceTarget, type ServiceTarget } from './params.js';

const DEFAULT_RUNS = 20;
const pauseBodySchema = z.strictObject({ job: z.string().optional() });
const runBodySchema = z.strictObject({});

function schedulerOf(deps: ApiDeps): CronScheduler {
  if (!deps.cron) throw new BerthError('unavailable', 503, 'this agent was started without cron support');
  return deps.cron;
}

/** 404 unless the current release of the service here has the job. */
function requireJob(deps: ApiDeps, target: ServiceTarget, job: string): void {
  const current = deps.store.current(target.service, target.destination);
  const jobs = current ? deps.store.getRelease(current.deploy_id)?.payload.cron ?? {} : {};
  if (!Object.hasOwn(jobs, job)) {
    const names = Object.keys(jobs).sort();
    throw new NotFoundError(
      `job ${job} is not in the current release of ${manifestSubject(target.service, target.destination)} on this agent`,
      names.length > 0 ? `its jobs here: ${names.join(', ')}` : 'this agent runs none of its jobs (hosts: one runs a job on its role\'s first host only)',
    );
  }
}

export function cronRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const base = '/v1/services/:name/cron';

  app.get(base, requireToken(deps, 'read'), (c) => {
    const target = serviceTarget(c);
    requireDeployed(deps.store, target);
    const scheduler = schedulerOf(deps);
    return c.json(cronStatus(deps.store, scheduler.entries(target), target, nowMs(deps)) satisfies CronJobsResponse);
  });

  app.get(`${base}/:job/runs`, requireToken(deps, 'read'), (c) => {
    const { target, query } = serviceQuery(c, ['limit']);
    const job = checkName(c.req.param('job') ?? '', 'job');
    requireDeployed(deps.store, target);
    const limit = query.limit === undefined ? DEFAULT_RUNS : positive(query.limit, 'limit', MAX_CRON_RUNS);
    const runs = deps.store.cron.runs({ ...target, job }, limit);
    if (runs.length === 0) requireJob(deps, target, job);
    return c.json({ runs } satisfies CronRunsResponse);
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post(`${base}/${action}`, requireToken(deps, 'deploy'), (c) => {
      const target = serviceTarget(c);
      const parsed = pauseBodySchema.safeParse(parseJsonBody(c.get('rawBody')));
      if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {} for every job or {"job": "NAME"}');
      const job = parsed.data.job === undefined ? undefined : checkName(parsed.data.job, 'job');
      requireDeployed(deps.store, target);
      if (job !== undefined) requireJob(deps, target, job);
      const scheduler = schedulerOf(deps);
      scheduler.setPaused({ ...target, job }, action === 'pause', c.get('caller').kid);
      return c.json(cronStatus(deps.store, scheduler.entries(target), target, nowMs(deps)) satisfies CronJobsResponse);
    });
  }

  app.post(`${base}/:job/run`, requireToken(deps, 'deploy'), async (c) => {
    const target = serviceTarget(c);
    const job = checkName(c.req.param('job') ?? '', 'job');
    const parsed = runBodySchema.safeParse(parseJsonBody(c.get('rawBody')));
    if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {}');
    requireDeployed(deps.store, target);
    requireJob(deps, target, job);
    const scheduler = schedulerOf(deps);
    const keyId = c.get('caller').kid;

    // Output that comes before the answer starts streaming waits here.
    const queue: OutputChunkText[] = [];
    let wake: (() => void) | undefined;
    const onOutput = (chunk: OutputChunkText) => {
      queue.push(chunk);
      wake?.();
    };
    let started: (run: CronRun) => void = () => {};
    const start = new Promise<CronRun>((resolve) => (started = resolve));
    const running = scheduler.runNow({ ...target, job }, onOutput, started);
    let ended = false;
    void running.then(
      () => ((ended = true), wake?.()),
      () => ((ended = true), wake?.()),
    );
    // Refusals (forbid, the agent's cap) come before the run starts: they answer with their status.
    const first = await Promise.race([start, running]);
    deps.store.audit.record({ keyId, action: 'cron.run', service: target.service, destination: target.destination, detail: { job, run: first.id } });

    return ndjsonResponse<CronRunRecord>(c, deps.log, async (write, signal) => {
      for (;;) {
        while (queue.length > 0 && !signal.aborted) await write(queue.shift() as OutputChunkText);
        if (ended || signal.aborted) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      // The run goes on if the client left: its ending is recorded either way.
      const run = await running;
      while (queue.length > 0 && !signal.aborted) await write(queue.shift() as OutputChunkText);
      const { output: _output, ...summary } = run;
      if (!signal.aborted) await write({ run: summary });
    });
  });
}
