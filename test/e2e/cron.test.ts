// Cron through the CLI on three servers, each an agent with its own engine:
// `hosts: one` runs a job on the role's first server only, `all` on each; the
// job sees the app's secret; `deploy cron run` streams and exits with the
// job's code; pause and resume; a crashed agent catches a missed slot up once;
// configs and releases that ask for too much are refused with nothing stored;
// `deploy remove` leaves no schedule or job container.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CronJobsResponse, CronRunsResponse } from '../../shared/api-responses.js';
import { testEnv } from '../support/env.js';
import { containersByLabel } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { waitFor } from '../support/wait.js';

const env = testEnv();
const SECRET = 'cron-e2e-secret-value';
// The agents refuse jobs more frequent than every 2 s and more than 4 jobs.
const AGENT_ENV = { BERTH_CRON_MIN_INTERVAL: '2', BERTH_CRON_MAX_JOBS: '4' };
let e: E2eApp;

const JOBS = `cron:
  tick:
    schedule: "*/2 * * * * *"
    command: sh -c 'echo "tick $WEB_VERSION len=\${#API_TOKEN}"'
    timeout: 2
  each:
    schedule: "*/2 * * * * *"
    command: ["sh", "-c", "echo each"]
    timeout: 2
    hosts: all
  fail:
    schedule: "@yearly"
    command: sh -c 'echo "nope $API_TOKEN"; exit 7'
`;
const SECRET_ENV = 'env:\n  secret:\n    - API_TOKEN\n';

before(async () => {
  assert.ok(env.engines.length >= 3, 'the harness provides three engines');
  e = await setupApp('cronjobs', { ips: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], engines: [env.engines[0]!, env.engines[1]!, env.engines[2]!], agentEnv: AGENT_ENV });
  for (const h of e.hosts) await h.trust(e.keyLine, 'admin');
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `API_TOKEN=${SECRET}\n`);
  e.configure('v1', SECRET_ENV + JOBS);
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => e?.teardown());

type Servers<T> = { servers: Array<{ host: string; error?: string } & T> };

async function json<T>(args: string[]): Promise<T> {
  const r = await e.app.run([...args, '--json']);
  assert.equal(r.code, 0, explain(r, e));
  return JSON.parse(r.stdout) as T;
}
const history = (job: string) => json<Servers<{ runs: CronRunsResponse['runs'] }>>(['cron', 'history', job, '-n', '200']);
const list = () => json<Servers<{ cron: CronJobsResponse }>>(['cron', 'list']);
const releasesCount = async () => (await e.app.run(['releases', '--json'])).stdout.split('"version"').length;

test('hosts: one runs a job on the first server only, all on every server; the job sees the secret, which no output shows', async () => {
  const [first] = e.hosts.map((h) => h.server);
  const tick = await waitFor('tick to succeed', async () => {
    const h = await history('tick');
    return h.servers[0]?.runs.some((r) => r.outcome === 'succeeded') ? h : undefined;
  }, 60_000, { intervalMs: 500, explain: () => e.hosts[0]!.agentLog() });
  assert.deepEqual(tick.servers.map((s) => s.host), [first], 'only the role\'s first server has the job');
  const run = tick.servers[0]!.runs.find((r) => r.outcome === 'succeeded')!;
  assert.equal(run.output, `tick v1 len=${SECRET.length}\n`);
  assert.equal(run.trigger, 'schedule');
  assert.equal(run.release, 'r1');

  const each = await waitFor('each to succeed on every server', async () => {
    const h = await history('each');
    return h.servers.length === 3 && h.servers.every((s) => s.runs.some((r) => r.outcome === 'succeeded')) ? h : undefined;
  }, 60_000, { intervalMs: 500 });
  assert.deepEqual(each.servers.map((s) => s.host).sort(), e.hosts.map((h) => h.server).sort());

  const jobs = await list();
  assert.deepEqual(jobs.servers.map((s) => s.cron.jobs.map((j) => j.name)), [['each', 'fail', 'tick'], ['each'], ['each']]);
  const text = await e.app.run(['cron', 'list']);
  assert.equal(text.code, 0, explain(text, e));
  assert.match(text.stdout, /tick/);
  assert.ok(!text.stdout.includes(SECRET));
});

test('deploy cron run streams the output and exits with the job\'s code; the failure is in history and the audit log, the secret redacted', async () => {
  // Paused, so no scheduled run holds it (forbid refuses a manual run beside one); a paused job still runs by hand.
  assert.equal((await e.app.run(['cron', 'pause', 'each'])).code, 0);
  await waitFor('runs under way to end', async () => ((await list()).servers.every((s) => s.cron.jobs.every((j) => j.running === 0)) ? true : undefined), 20_000, { intervalMs: 250 });
  const ok = await e.app.run(['cron', 'run', 'each']);
  assert.equal(ok.code, 0, explain(ok, e));
  assert.equal((await e.app.run(['cron', 'resume', 'each'])).code, 0);
  for (const h of e.hosts) assert.match(ok.stdout, new RegExp(`${h.server.replace(/\./g, '\\.')}.*each`), ok.stdout);

  const bad = await e.app.run(['cron', 'run', 'fail']);
  assert.equal(bad.code, 7, explain(bad, e));
  assert.match(bad.stdout, /nope \[secret API_TOKEN\]/);
  assert.ok(!bad.stdout.includes(SECRET) && !bad.stderr.includes(SECRET));
  const runs = (await history('fail')).servers[0]!.runs;
  assert.deepEqual([runs[0]!.trigger, runs[0]!.outcome, runs[0]!.exit_code], ['manual', 'failed', 7]);
  const audit = await e.app.run(['audit', '--json']);
  assert.match(audit.stdout, /"action":"cron\.failed"/);
  assert.match(audit.stdout, /"action":"cron\.run"/);

  const listed = await e.app.run(['cron', 'list']);
  assert.match(listed.stdout, /FAILED/, listed.stdout);

  const missing = await e.app.run(['cron', 'run', 'nosuchjob']);
  assert.equal(missing.code, 1, explain(missing, e));
  assert.match(missing.stderr, /nosuchjob/);
});

test('pause stops a job on its servers, resume starts it again', async () => {
  const paused = await e.app.run(['cron', 'pause', 'each']);
  assert.equal(paused.code, 0, explain(paused, e));
  const jobs = await list();
  for (const s of jobs.servers) {
    const each = s.cron.jobs.find((j) => j.name === 'each')!;
    assert.deepEqual([each.paused, each.next_run], [true, null]);
  }
  const count = async () => (await history('each')).servers.reduce((n, s) => n + s.runs.filter((r) => r.trigger === 'schedule').length, 0);
  // Let any run already under way end, then watch two slots pass without a new one.
  await waitFor('runs under way to end', async () => ((await list()).servers.every((s) => s.cron.jobs.every((j) => j.running === 0)) ? true : undefined), 20_000, { intervalMs: 250 });
  const before = await count();
  const since = Date.now();
  await waitFor('two slots to pass', () => (Date.now() - since > 4_500 ? true : undefined), 10_000, { intervalMs: 100 });
  assert.equal(await count(), before, 'no scheduled run while paused');
  const resumed = await e.app.run(['cron', 'resume', 'each']);
  assert.equal(resumed.code, 0, explain(resumed, e));
  await waitFor('a run after resume', async () => ((await count()) > before ? true : undefined), 30_000, { intervalMs: 500 });
});

test('an agent down across scheduled times runs the job once, as a catch-up, when it comes back', async () => {
  const h = e.hosts[0]!;
  await h.killAgent();
  const since = Date.now();
  await waitFor('three slots to pass', () => (Date.now() - since > 6_500 ? true : undefined), 10_000, { intervalMs: 100 });
  await h.startAgent(AGENT_ENV);
  const runs = await waitFor('the catch-up run to end', async () => {
    const r = (await history('tick')).servers[0]!.runs;
    return r.some((x) => x.trigger === 'catch-up' && x.outcome !== 'running') ? r : undefined;
  }, 60_000, { intervalMs: 500, explain: () => h.agentLog() });
  assert.equal(runs.filter((r) => r.trigger === 'catch-up').length, 1, JSON.stringify(runs.slice(0, 10)));
  assert.equal(runs.find((r) => r.trigger === 'catch-up')!.outcome, 'succeeded');
});

test('refused input: the config names the key and line, the agent refuses more than it allows; nothing is sent or stored', async () => {
  const count = await releasesCount();
  const cases: Array<[string, RegExp]> = [
    ['cron:\n  x:\n    schedule: "61 * * * *"\n    command: "true"\n', /cron\/x\/schedule.*out of range.*deploy\.yml:\d+/],
    ['cron:\n  x:\n    schedule: "@daily"\n    command: "true"\n    role: db\n', /cron\/x\/role.*db/],
    ['cron:\n  x:\n    schedule: "@daily"\n    command: "true"\n    timezone: Mars/Olympus\n', /cron\/x\/timezone.*Mars\/Olympus/],
    ['cron:\n  x:\n    schedule: "@daily"\n    command: bin/report | mail ops\n', /cron\/x\/command.*"\|"/],
  ];
  for (const [yaml, message] of cases) {
    e.configure('v1', SECRET_ENV + yaml);
    const r = await e.push('refused');
    assert.notEqual(r.code, 0, explain(r, e));
    assert.match(r.stderr, message);
  }
  // The agents' own limits (BERTH_CRON_MIN_INTERVAL=2, BERTH_CRON_MAX_JOBS=4).
  e.configure('v1', SECRET_ENV + 'cron:\n  x:\n    schedule: "* * * * * *"\n    command: "true"\n    timeout: 1\n');
  const often = await e.push('refused');
  assert.equal(often.code, 1, explain(often, e));
  assert.match(often.stdout + often.stderr, /cron\.x\.schedule: "\* \* \* \* \* \*" runs every 1s; this agent runs a job at most once every 2s/);
  const five = Array.from({ length: 5 }, (_, i) => `  j${i}:\n    schedule: "@daily"\n    command: "true"\n`).join('');
  e.configure('v1', SECRET_ENV + `cron:\n${five}`);
  const many = await e.push('refused');
  assert.equal(many.code, 1, explain(many, e));
  assert.match(many.stdout + many.stderr, /exceed the 4 this agent schedules/);

  assert.equal(await releasesCount(), count, 'no release was stored');
  const jobs = await list();
  assert.deepEqual(jobs.servers[0]!.cron.jobs.map((j) => j.name), ['each', 'fail', 'tick'], 'the jobs in force are unchanged');
  e.configure('v1', SECRET_ENV + JOBS);
});

test('deploy remove leaves no schedule and no job container on any server', async () => {
  e.configure('v1', SECRET_ENV + JOBS.replace('command: ["sh", "-c", "echo each"]', 'command: ["sleep", "60"]').replace('timeout: 2\n    hosts: all', 'timeout: 60\n    hosts: all\n    concurrency: allow'));
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  await waitFor('a sleeping job container', async () => ((await containersByLabel(e.hosts[1]!.engine.host, 'berth.cron=each')).some((c) => c.state === 'running') ? true : undefined), 30_000, { intervalMs: 250 });
  const removed = await e.app.run(['remove', '-y']);
  assert.equal(removed.code, 0, explain(removed, e));
  for (const h of e.hosts) {
    assert.deepEqual(await containersByLabel(h.engine.host, `berth.service=${e.service}`), [], `no container of the service on ${h.server}`);
  }
  const after = await e.app.run(['cron', 'list', '--json']);
  for (const s of (JSON.parse(after.stdout) as Servers<{ cron?: CronJobsResponse }>).servers) {
    assert.ok(s.error !== undefined || (s.cron?.jobs.length ?? 0) === 0, JSON.stringify(s));
  }
});
