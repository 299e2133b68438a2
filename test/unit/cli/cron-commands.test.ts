// deploy cron list|run|history|pause|resume against two local fake agents
// (real HTTPS, pinned). A carries nightly (hosts: one) and report, B only
// report: what each server is asked, what is printed, and the exit codes.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CronOutcome } from '../../../shared/api-types.js';
import { cliRunner, tempDir, type FakeAgent, type RecordedRequest, startAgentPair } from '../../support/cli-fixtures.js';
import { cronJob, cronRun, cronSummary } from '../../support/cron-fixtures.js';

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

interface Modes {
  bDown: boolean;
  bOutdated: boolean;
  /** A's run of nightly: refused (409), or its stream ends without the run record. */
  aRun: 'ok' | 'conflict' | 'cut';
  /** How the next run of each job ends on each agent. */
  outcome: Record<string, { outcome: CronOutcome; exit_code: number | null; reason: string }>;
  paused: Record<string, Set<string>>;
}

const FAILED_LAST = cronSummary({ outcome: 'failed', exit_code: 3, reason: 'exit code 3' });

function routesFor(name: 'A' | 'B', modes: Modes) {
  const names = name === 'A' ? ['nightly', 'report'] : ['report'];
  const jobs = () => {
    const paused = modes.paused[name]!;
    return {
      release: 'v2', paused: paused.has('*'),
      jobs: names.map((n) => cronJob({
        name: n, paused: paused.has('*') || paused.has(n), hosts: n === 'nightly' ? 'one' : 'all',
        ...(n === 'nightly' ? { last_run: FAILED_LAST, overdue: true } : { schedule: '*/5 * * * *', timezone: 'Europe/Berlin' }),
      })),
    };
  };
  return (req: RecordedRequest, res: ServerResponse) => {
    const { method, url } = req;
    if (name === 'B' && modes.bDown) return reply(res, 503, { error: { code: 'unavailable', message: 'the Docker engine is not answering' } });
    if (name === 'B' && modes.bOutdated) return reply(res, 404, { error: { code: 'not_found', message: `no route for ${method} ${url}` } });
    if (method === 'GET' && url === '/v1/services/demo/cron?destination=') return reply(res, 200, jobs());
    const runs = /^\/v1\/services\/demo\/cron\/([a-z]+)\/runs\?destination=&limit=(\d+)$/.exec(url);
    if (method === 'GET' && runs && names.includes(runs[1]!)) {
      return reply(res, 200, { runs: [cronRun({ job: runs[1]!, outcome: 'failed', exit_code: 3, reason: 'exit code 3', output: 'boom\n' }), cronRun({ id: 0, job: runs[1]!, trigger: 'catch-up' })] });
    }
    const run = /^\/v1\/services\/demo\/cron\/([a-z]+)\/run\?destination=$/.exec(url);
    if (method === 'POST' && run && names.includes(run[1]!)) {
      if (name === 'A' && modes.aRun === 'conflict') return reply(res, 409, { error: { code: 'conflict', message: 'nightly is running (concurrency forbid)' } });
      const end = modes.outcome[`${name}:${run[1]}`] ?? { outcome: 'succeeded', exit_code: 0, reason: '' };
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ stream: 'stdout', data: `hello from ${name}\nsecond ` })}\n\n`);
      res.write(`${JSON.stringify({ stream: 'stderr', data: 'warn\n' })}\n`);
      res.write(`${JSON.stringify({ stream: 'stdout', data: 'line\n' })}\n`);
      if (name === 'A' && modes.aRun === 'cut') return res.end();
      return res.end(`${JSON.stringify({ run: cronSummary({ job: run[1]!, trigger: 'manual', scheduled_at: null, ...end }) })}\n`);
    }
    const pause = /^\/v1\/services\/demo\/cron\/(pause|resume)\?destination=$/.exec(url);
    if (method === 'POST' && pause) {
      const { job } = JSON.parse(req.body.toString()) as { job?: string };
      if (job !== undefined && !names.includes(job)) return reply(res, 404, { error: { code: 'not_found', message: `no cron job ${job}` } });
      const set = modes.paused[name]!;
      if (pause[1] === 'pause') set.add(job ?? '*');
      else if (job === undefined) set.clear();
      else set.delete(job);
      return reply(res, 200, jobs());
    }
    reply(res, 404, { error: { code: 'not_found', message: `no route for ${method} ${url}` } });
  };
}

describe('deploy cron against two agents', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const modes: Modes = { bDown: false, bOutdated: false, aRun: 'ok', outcome: {}, paused: { A: new Set(), B: new Set() } };
  let a: FakeAgent;
  let b: FakeAgent;
  let hostA: string;
  let hostB: string;
  const run = cliRunner(dir.path, xdg);
  const posts = () => [...a.requests.map((r) => ({ ...r, agent: 'A' })), ...b.requests.map((r) => ({ ...r, agent: 'B' }))].filter((r) => r.method === 'POST');

  before(async () => {
    ({ a, b, hostA, hostB } = await startAgentPair(dir.path, run, (name) => routesFor(name, modes)));
  });
  beforeEach(() => {
    Object.assign(modes, { bDown: false, bOutdated: false, aRun: 'ok', outcome: {} });
    modes.paused.A!.clear();
    modes.paused.B!.clear();
    a.requests.length = 0;
    b.requests.length = 0;
  });
  after(async () => {
    await a.close();
    await b.close();
    dir.cleanup();
  });

  it('list: every server\'s jobs, a failed last run and an overdue job standing out; exit 0', async () => {
    const res = await run(['cron', 'list']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^HOST +JOB +SCHEDULE +NEXT RUN +LAST RUN +LAST RESULT +DURATION +FLAGS$/);
    assert.match(lines[1]!, new RegExp(`^${hostA} +nightly +0 3 \\* \\* \\* +2026-11-23 03:00:00 +2026-11-22 03:00:00 +FAILED \\(exit 3\\) +4\\.2s +OVERDUE$`));
    assert.match(lines[2]!, new RegExp(`^${hostA} +report +\\*/5 \\* \\* \\* \\* \\(Europe/Berlin\\) +.* succeeded \\(exit 0\\) +4\\.2s +-$`));
    assert.match(lines[3]!, new RegExp(`^${hostB} +report `));
    assert.equal(lines.length, 4);
    const json = JSON.parse((await run(['cron', 'list', '--json'])).stdout) as { service: string; servers: Array<{ host: string; cron: { jobs: Array<{ name: string }> } }> };
    assert.equal(json.service, 'demo');
    assert.deepEqual(json.servers.map((s) => [s.host, s.cron.jobs.map((j) => j.name)]), [[hostA, ['nightly', 'report']], [hostB, ['report']]]);
  });

  it('list: a server that cannot answer is shown and makes the exit 1; an outdated agent is named', async () => {
    modes.bDown = true;
    let res = await run(['cron', 'list']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /nightly/);
    assert.match(res.stdout, new RegExp(`${hostB} .*error: .*Docker engine is not answering`));
    modes.bDown = false;
    modes.bOutdated = true;
    res = await run(['cron', 'list']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /does not run cron jobs/);
    assert.match(res.stderr, /upgrade the agent/);
  });

  it('run: only on the server carrying the job, output as it comes, the job\'s exit code', async () => {
    modes.outcome['A:nightly'] = { outcome: 'failed', exit_code: 3, reason: 'exit code 3' };
    const res = await run(['cron', 'run', 'nightly']);
    assert.equal(res.code, 3);
    assert.equal(res.stdout, 'hello from A\nsecond line\n');
    assert.equal(res.stderr, `warn\n${hostA}: nightly failed (exit 3): exit code 3\n`);
    assert.deepEqual(posts().map((p) => [p.agent, p.url, p.body.toString()]), [['A', '/v1/services/demo/cron/nightly/run?destination=', '{}']]);
    modes.outcome['A:nightly'] = { outcome: 'succeeded', exit_code: 0, reason: '' };
    assert.equal((await run(['cron', 'run', 'nightly'])).code, 0);
  });

  it('run: a timed out or unstarted run exits 1 with its reason', async () => {
    modes.outcome['A:nightly'] = { outcome: 'timed_out', exit_code: 137, reason: 'killed after 600s' };
    let res = await run(['cron', 'run', 'nightly']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /nightly timed_out \(exit 137\): killed after 600s/);
    modes.outcome['A:nightly'] = { outcome: 'start_failed', exit_code: null, reason: 'image not found' };
    res = await run(['cron', 'run', 'nightly']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /nightly start_failed: image not found/);
  });

  it('run: refused by the agent, or a stream ending without the run\'s result, exits 1 saying so', async () => {
    modes.aRun = 'conflict';
    let res = await run(['cron', 'run', 'nightly']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /nightly is running \(concurrency forbid\)/);
    modes.aRun = 'cut';
    res = await run(['cron', 'run', 'nightly']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, 'hello from A\nsecond line\n');
    assert.match(res.stderr, /ended without its result/);
  });

  it('run on several servers: lines led by the host; 1 when any run failed', async () => {
    let res = await run(['cron', 'run', 'report']);
    assert.equal(res.code, 0, res.stderr);
    for (const [host, agent] of [[hostA, 'A'], [hostB, 'B']]) {
      assert.ok(res.stdout.includes(`${host} | hello from ${agent}\n`) && res.stdout.includes(`${host} | second line\n`), res.stdout);
      assert.ok(res.stderr.includes(`${host} | warn\n`));
    }
    modes.outcome['B:report'] = { outcome: 'failed', exit_code: 2, reason: 'exit code 2' };
    res = await run(['cron', 'run', 'report']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`${hostB}: report failed \\(exit 2\\)`));
  });

  it('run --json: NDJSON records per host, then each run', async () => {
    const res = await run(['cron', 'run', 'nightly', '--json']);
    assert.equal(res.code, 0);
    const records = res.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(records.slice(0, 3), [
      { host: hostA, stream: 'stdout', data: 'hello from A\nsecond ' },
      { host: hostA, stream: 'stderr', data: 'warn\n' },
      { host: hostA, stream: 'stdout', data: 'line\n' },
    ]);
    assert.equal(records.length, 4);
    assert.deepEqual(records[3], { host: hostA, run: cronSummary({ job: 'nightly', trigger: 'manual', scheduled_at: null }) });
  });

  it('run of a job no server has: exit 1 naming it and the jobs that exist; nothing run', async () => {
    const res = await run(['cron', 'run', 'backup']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no server runs a cron job named backup \(jobs: nightly, report\)/);
    assert.equal(posts().length, 0);
  });

  it('run when a server cannot be asked and the job is found nowhere else: that server\'s error, nothing run', async () => {
    modes.bDown = true;
    const res = await run(['cron', 'run', 'backup']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Docker engine is not answering/);
    assert.equal(posts().length, 0);
  });

  it('history: newest first from the servers carrying the job, limit sent, output only with --output', async () => {
    const res = await run(['cron', 'history', 'nightly', '-n', '5']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^HOST +STARTED +TRIGGER +OUTCOME +EXIT +DURATION +RELEASE +REASON$/);
    assert.match(lines[1]!, new RegExp(`^${hostA} +2026-11-22 03:00:00 +schedule +FAILED +3 +4\\.2s +v2 +exit code 3$`));
    assert.match(lines[2]!, new RegExp(`^${hostA} +2026-11-22 03:00:00 +catch-up +succeeded +0 +4\\.2s +v2 +-$`));
    assert.equal(lines.length, 3);
    assert.deepEqual(b.requests.filter((r) => r.url.includes('/runs')), []);
    assert.ok(a.requests.some((r) => r.url === '/v1/services/demo/cron/nightly/runs?destination=&limit=5'));
    const withOutput = await run(['cron', 'history', 'nightly', '--output']);
    assert.match(withOutput.stdout, /exit code 3\n {4}\| boom\n/);
    const json = JSON.parse((await run(['cron', 'history', 'report', '--json'])).stdout) as { job: string; servers: Array<{ host: string; runs: unknown[] }> };
    assert.equal(json.job, 'report');
    assert.deepEqual(json.servers.map((s) => [s.host, s.runs.length]), [[hostA, 2], [hostB, 2]]);
  });

  it('pause JOB on the servers carrying it, pause/resume of everything on every server; prints what is paused', async () => {
    let res = await run(['cron', 'pause', 'nightly']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(posts().map((p) => [p.agent, p.url, p.body.toString()]), [['A', '/v1/services/demo/cron/pause?destination=', '{"job":"nightly"}']]);
    assert.match(res.stdout, new RegExp(`^HOST +PAUSED\n${hostA} +nightly\n$`));
    assert.match(res.stderr, /paused nightly on 1 of 1 server/);
    res = await run(['cron', 'pause']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, new RegExp(`${hostA} +all jobs\n${hostB} +all jobs\n$`));
    res = await run(['cron', 'resume', '--json']);
    const json = JSON.parse(res.stdout) as { job: null; servers: Array<{ host: string; cron: { paused: boolean } }> };
    assert.deepEqual(json.servers.map((s) => [s.host, s.cron.paused]), [[hostA, false], [hostB, false]]);
    // posts() lists A's requests, then B's.
    assert.deepEqual(posts().slice(1).map((p) => [p.agent, p.url.split('?')[0], p.body.toString()]), [
      ['A', '/v1/services/demo/cron/pause', '{}'], ['A', '/v1/services/demo/cron/resume', '{}'],
      ['B', '/v1/services/demo/cron/pause', '{}'], ['B', '/v1/services/demo/cron/resume', '{}'],
    ]);
  });

  it('a bad JOB or -n is a usage error (exit 2) and asks nothing', async () => {
    for (const argv of [['cron', 'run', 'Bad/Name'], ['cron', 'history', 'nightly', '-n', '0'], ['cron', 'pause', '-x'], ['cron', 'run'], ['cron', 'list', 'extra']]) {
      assert.equal((await run(argv)).code, 2, argv.join(' '));
    }
    assert.equal(a.requests.length + b.requests.length, 0);
  });
});
