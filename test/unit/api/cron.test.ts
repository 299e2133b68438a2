// The cron endpoints through app.request, over a real store and a scheduler
// on a fake clock and runner: scopes, bounds, 404s that name the jobs, pause
// and resume bodies, a manual run's NDJSON answer, and forbid's 409.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cronJobsResponseSchema, cronRunRecordSchema, cronRunsResponseSchema } from '../../../shared/api-responses.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { cronHarness, failed, FakeClock, type CronHarness } from '../../support/cron-fakes.js';
import { moveDeploy } from '../../support/deploy-states.js';
import { waitFor } from '../../support/wait.js';

let f: ApiFixture;
let h: CronHarness;
const BASE = '/v1/services/demo/cron';
const q = '?destination=';

before(async () => {
  f = await ApiFixture.create({ cron: (store) => (h = cronHarness(store, new FakeClock(Date.now()))).scheduler });
  f.trustAll();
  const jobs = {
    tidy: { schedule: '@hourly', command: ['bin/tidy'], role: 'web', timeout: 60 },
    report: { schedule: '@daily', command: ['bin/report'], role: 'web', timeout: 60, concurrency: 'forbid' as const },
  };
  const res = await f.postRelease(await f.manifest({ cron: jobs }));
  assert.equal(res.status, 202, await res.clone().text());
  const id = ((await res.json()) as { deploy: { id: number } }).deploy.id;
  moveDeploy(f.store, id, 'DONE');
  f.store.setCurrent('demo', '', id);
  await h.scheduler.start();
});
after(async () => {
  await h.scheduler.stop();
  f.cleanup();
});

async function json(method: string, path: string, opts: { body?: unknown; key?: ApiFixture['keyA'] } = {}): Promise<{ status: number; body: unknown }> {
  const res = await f.request(method, path, { ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}), ...(opts.key ? { key: opts.key } : {}) });
  return { status: res.status, body: await res.json() };
}

describe('cron API: reading', () => {
  it('lists the jobs of the current release to a read key', async () => {
    const { status, body } = await json('GET', `${BASE}${q}`, { key: f.keyRead });
    assert.equal(status, 200);
    const parsed = cronJobsResponseSchema.parse(body);
    assert.deepEqual(parsed, body);
    assert.equal(parsed.paused, false);
    assert.deepEqual(parsed.jobs.map((j) => [j.name, j.paused, j.running, j.last_run]), [['report', false, 0, null], ['tidy', false, 0, null]]);
    assert.ok(parsed.jobs.every((j) => j.next_run !== null));
  });

  it('runs: limit from 1 to 200, anything else 400', async () => {
    for (const limit of ['0', '201', 'abc', '-1']) {
      const res = await f.request('GET', `${BASE}/tidy/runs${q}&limit=${limit}`, { key: f.keyRead });
      const e = await errorOf(res);
      assert.equal(e.status, 400, limit);
      assert.match(e.message, /limit must be an integer from 1 to 200/);
    }
    const { status, body } = await json('GET', `${BASE}/tidy/runs${q}&limit=200`, { key: f.keyRead });
    assert.equal(status, 200);
    assert.deepEqual(cronRunsResponseSchema.parse(body), { runs: [] });
  });

  it('an unknown job is a 404 naming the jobs there are', async () => {
    const res = await f.request('GET', `${BASE}/nope/runs${q}`, { key: f.keyRead });
    const body = (await res.json()) as { error: { code: string; message: string; hint: string } };
    assert.equal(res.status, 404);
    assert.equal(body.error.code, 'not_found');
    assert.match(body.error.message, /job nope is not in the current release of demo/);
    assert.equal(body.error.hint, 'its jobs here: report, tidy');
  });

  it('a service never deployed here is a 404', async () => {
    assert.equal((await f.request('GET', '/v1/services/ghost/cron?destination=', { key: f.keyRead })).status, 404);
  });
});

describe('cron API: pause and resume', () => {
  it('refuses an unknown body field (400) and an unknown job (404)', async () => {
    const bad = await errorOf(await f.request('POST', `${BASE}/pause${q}`, { body: JSON.stringify({ job: 'tidy', all: true }) }));
    assert.equal(bad.status, 400);
    assert.match(bad.message, /request body/);
    const missing = await errorOf(await f.request('POST', `${BASE}/pause${q}`, { body: JSON.stringify({ job: 'nope' }) }));
    assert.equal(missing.status, 404);
  });

  it('a read-only key may not pause, resume or run (403)', async () => {
    for (const path of [`${BASE}/pause${q}`, `${BASE}/resume${q}`, `${BASE}/tidy/run${q}`]) {
      const res = await f.request('POST', path, { body: '{}', key: f.keyRead });
      assert.equal(res.status, 403, path);
    }
    assert.equal(h.runner.runs.length, 0);
  });

  it('pauses one job, then the service; resuming the service resumes both', async () => {
    const one = await json('POST', `${BASE}/pause${q}`, { body: { job: 'tidy' } });
    assert.equal(one.status, 200);
    const a = cronJobsResponseSchema.parse(one.body);
    assert.deepEqual(a.jobs.map((j) => [j.name, j.paused, j.next_run === null]), [['report', false, false], ['tidy', true, true]]);
    const all = cronJobsResponseSchema.parse((await json('POST', `${BASE}/pause${q}`, { body: {} })).body);
    assert.equal(all.paused, true);
    assert.ok(all.jobs.every((j) => j.paused && j.next_run === null));
    const back = cronJobsResponseSchema.parse((await json('POST', `${BASE}/resume${q}`, { body: {} })).body);
    assert.equal(back.paused, false);
    assert.ok(back.jobs.every((j) => !j.paused && j.next_run !== null));
    const actions = f.store.audit.list({ service: 'demo', limit: 100 }).map((e) => e.action);
    assert.deepEqual(actions.filter((x) => x.startsWith('cron.')), ['cron.resume', 'cron.pause', 'cron.pause']);
  });
});

describe('cron API: run now', () => {
  it('streams the output, then the recorded run; a second run under forbid is a 409', async () => {
    const path = `${BASE}/report/run${q}`;
    const answer = f.request('POST', path, { body: '{}' });
    const run = await waitFor('the run to start', () => h.runner.runs[0]);
    assert.deepEqual(run.spec.spec.command, ['bin/report']);
    const res = await answer;
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);

    const second = await errorOf(await f.request('POST', path, { body: '{}' }));
    assert.equal(second.status, 409);
    assert.equal(second.code, 'cron_running');
    assert.match(second.message, /still running \(concurrency: forbid\)/);

    run.onOutput?.({ stream: 'stdout', data: 'working\n' });
    run.onOutput?.({ stream: 'stderr', data: 'oops\n' });
    run.finish(failed(2, 'working\noops\n'));
    const records = (await res.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
    for (const r of records) assert.deepEqual(cronRunRecordSchema.parse(r), r);
    assert.deepEqual(records.slice(0, 2), [{ stream: 'stdout', data: 'working\n' }, { stream: 'stderr', data: 'oops\n' }]);
    const last = records.at(-1) as { run: Record<string, unknown> };
    assert.equal(records.length, 3);
    assert.equal(last.run.outcome, 'failed');
    assert.equal(last.run.exit_code, 2);
    assert.equal(last.run.trigger, 'manual');
    assert.equal('output' in last.run, false);

    const runs = cronRunsResponseSchema.parse((await json('GET', `${BASE}/report/runs${q}&limit=5`, { key: f.keyRead })).body).runs;
    assert.deepEqual(runs.map((r) => [r.id, r.outcome, r.output]), [[last.run.id, 'failed', 'working\noops\n']]);
    const audit = f.store.audit.list({ service: 'demo', limit: 100 }).find((e) => e.action === 'cron.run');
    assert.deepEqual(audit?.detail, { job: 'report', run: last.run.id });
  });

  it('an unknown job is a 404 and a body with members is a 400', async () => {
    assert.equal((await f.request('POST', `${BASE}/nope/run${q}`, { body: '{}' })).status, 404);
    assert.equal((await f.request('POST', `${BASE}/tidy/run${q}`, { body: JSON.stringify({ cmd: ['sh'] }) })).status, 400);
  });
});
