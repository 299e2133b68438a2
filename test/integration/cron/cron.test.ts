// The agent's cron against a real engine: releases deployed by the real engine,
// jobs run by the real scheduler and runner as fresh containers, rows read
// back from the real store. Schedules are 6-field (seconds) so a test waits
// seconds, not minutes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createCronRunner } from '../../../agent/cron/runner.js';
import { createCronScheduler, type CronScheduler } from '../../../agent/cron/scheduler.js';
import type { CronRun } from '../../../shared/api-types.js';
import { seal } from '../../../shared/sealing.js';
import { containersByLabel } from '../../support/docker-cli.js';
import { sealFor, startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { waitFor } from '../../support/wait.js';

let f: EngineFixture;
let v1 = '';
let v2 = '';
let release = 0;
const silent = { info() {}, warn() {}, error() {} };
const SECRET = 'tok-3f9a-very-secret';

before(async () => {
  f = await startEngineFixture('cron');
  v1 = await f.digestOf('v1');
  v2 = await f.digestOf('v2');
});
after(async () => f?.close());

function scheduler(maxRunning = 8): CronScheduler {
  return createCronScheduler({
    store: f.store,
    docker: f.docker,
    runner: createCronRunner({ docker: f.docker, hostname: 'test-host-1', network: 'berth', sealingPrivateJwk: f.sealingPrivateJwk }),
    log: silent,
    agentId: f.agentId,
    hostname: 'test-host-1',
    sealingPrivateJwk: f.sealingPrivateJwk,
    maxRunning,
  });
}

/** Deploys the next release with `cron` jobs (and `extra` manifest fields) to DONE. */
async function deployJobs(image: string, cron: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  release += 1;
  const version = `r${release}`;
  const token = await sealFor(f, SECRET, { name: 'API_TOKEN' });
  const roles = { web: { env: { clear: {}, secret: { API_TOKEN: token } }, proxy: { hosts: [f.host], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 2 } } } };
  const d = await f.deploy(f.manifest(version, image, { roles, cron, ...extra }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  return version;
}

const job = (command: string[], over: Record<string, unknown> = {}) => ({ schedule: '* * * * * *', command, role: 'web', timeout: 1, ...over });
const runsOf = (name: string): CronRun[] => f.store.cron.runs({ service: f.service, destination: '', job: name }, 200);
const cronContainers = (name: string) => containersByLabel(f.engineHost, `berth.cron=${name}`);

test('a job every second runs in the release image with the role env and secrets; output, exit code and trigger are recorded, secrets redacted, containers removed', async () => {
  // `allow` and a 10 s timeout: on a busy machine a run may outlast its one-second
  // slot, and this test is about what a run gets and records, not about overlap
  // (forbid and timeouts have their own tests below).
  await deployJobs(v1, { hello: job(['sh', '-c', 'echo "version=$WEB_VERSION host=$BERTH_HOST len=${#API_TOKEN} token=$API_TOKEN"; echo oops >&2'], { concurrency: 'allow', timeout: 10 }) });
  const s = scheduler();
  await s.start();
  try {
    const done = await waitFor('two finished runs', () => {
      const runs = runsOf('hello').filter((r) => r.outcome !== 'running');
      return runs.length >= 2 ? runs : undefined;
    }, 30_000, { intervalMs: 100 });
    for (const run of done) {
      assert.equal(run.outcome, 'succeeded', JSON.stringify(run));
      assert.equal(run.exit_code, 0);
      assert.equal(run.trigger, 'schedule');
      assert.equal(run.release, `r${release}`);
      assert.match(run.output, new RegExp(`version=v1 host=test-host-1 len=${SECRET.length} token=\\[secret API_TOKEN\\]`));
      assert.match(run.output, /oops/);
      assert.ok(!run.output.includes(SECRET), 'the secret value never reaches the store');
      assert.ok(run.scheduled_at !== null && run.duration_ms !== null && run.duration_ms >= 0);
      // The slots are a second apart, on whole seconds.
      assert.equal(new Date(run.scheduled_at).getUTCMilliseconds(), 0);
    }
    assert.notEqual(done[0]!.scheduled_at, done[1]!.scheduled_at);
  } finally {
    await s.stop();
  }
  await waitFor('no cron containers left', async () => ((await cronContainers('hello')).length === 0 ? true : undefined), 20_000, { intervalMs: 200 });
  const dump = JSON.stringify(f.store.dump());
  assert.ok(!dump.includes(SECRET), 'no table holds the secret in clear');
});

test('forbid: a run that outlasts its slot makes the next one a recorded skip; the timeout kills the container and says why', async () => {
  await deployJobs(v1, { slow: job(['sleep', '30'], { schedule: '*/2 * * * * *', timeout: 2 }) });
  const s = scheduler();
  await s.start();
  try {
    const runs = await waitFor('a timed-out run and a skip', () => {
      const all = runsOf('slow');
      return all.some((r) => r.outcome === 'timed_out') && all.some((r) => r.outcome === 'skipped') ? all : undefined;
    }, 40_000, { intervalMs: 200 });
    const timedOut = runs.find((r) => r.outcome === 'timed_out')!;
    assert.match(timedOut.reason, /timed out after 2s; the container was killed/);
    assert.equal(timedOut.exit_code, null);
    const skip = runs.find((r) => r.outcome === 'skipped')!;
    assert.match(skip.reason, /^run #\d+ is still running \(concurrency: forbid\)$/);
    const audit = f.store.audit.list({ service: f.service, limit: 100 }).filter((a) => a.action === 'cron.failed');
    assert.ok(audit.some((a) => a.detail.run === timedOut.id && a.detail.outcome === 'timed_out'), JSON.stringify(audit));
    // A manual run while one runs is refused under forbid, before anything starts.
    await waitFor('a run under way', () => (s.entries({ service: f.service, destination: '' })[0]?.running.size ? true : undefined), 20_000);
    await assert.rejects(s.runNow({ service: f.service, destination: '', job: 'slow' }, () => {}), { status: 409, code: 'cron_running' });
  } finally {
    await s.stop();
  }
});

test('replace: a new slot stops the running run (recorded replaced) and starts its own', async () => {
  await deployJobs(v1, { swap: job(['sleep', '30'], { schedule: '*/2 * * * * *', timeout: 30, concurrency: 'replace' }) });
  const s = scheduler();
  await s.start();
  try {
    const replaced = await waitFor('a replaced run', () => runsOf('swap').find((r) => r.outcome === 'replaced'), 30_000, { intervalMs: 200 });
    assert.match(replaced.reason, /a newer run replaced it \(concurrency: replace\)/);
    assert.ok(runsOf('swap').some((r) => r.id > replaced.id), 'the replacing run is recorded');
  } finally {
    await s.stop();
  }
});

test('a new release changes the command: the next run uses the new image and command', async () => {
  await deployJobs(v1, { ver: job(['sh', '-c', 'echo one $WEB_VERSION']) });
  const s = scheduler();
  await s.start();
  try {
    await waitFor('a run of r-one', () => runsOf('ver').find((r) => r.outcome === 'succeeded'), 30_000, { intervalMs: 100 });
    const second = await deployJobs(v2, { ver: job(['sh', '-c', 'echo two $WEB_VERSION']) });
    const run = await waitFor('a run of the new release', () => runsOf('ver').find((r) => r.release === second && r.outcome === 'succeeded'), 30_000, { intervalMs: 100 });
    assert.match(run.output, /^two v2\n$/);
    assert.equal(run.image, v2);
  } finally {
    await s.stop();
  }
});

test('catch-up: stopped across scheduled times, the restarted scheduler runs the job exactly once as catch-up', async () => {
  await deployJobs(v1, { tick: job(['true'], { schedule: '*/3 * * * * *' }) });
  const first = scheduler();
  await first.start();
  await waitFor('a scheduled run', () => runsOf('tick').find((r) => r.outcome === 'succeeded'), 30_000, { intervalMs: 100 });
  await first.stop();
  const stoppedAt = Date.now();
  // The agent is down across at least two slots (3 s apart).
  await waitFor('two slots to pass', () => (Date.now() > stoppedAt + 6_500 ? true : undefined), 10_000, { intervalMs: 100 });
  const before = runsOf('tick').length;
  const second = scheduler();
  await second.start();
  try {
    await waitFor('the catch-up run to end', () => runsOf('tick').find((r) => r.trigger === 'catch-up' && r.outcome !== 'running'), 30_000, { intervalMs: 100 });
    const after = runsOf('tick').slice(0, runsOf('tick').length - before);
    assert.equal(after.filter((r) => r.trigger === 'catch-up').length, 1, JSON.stringify(after));
    assert.equal(after.find((r) => r.trigger === 'catch-up')!.outcome, 'succeeded');
  } finally {
    await second.stop();
  }
});

test('notify: a failing run POSTs a signed JSON with the job, host, exit code and output tail; an unreachable hook is recorded, not retried', async () => {
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const where = { service: f.service, destination: '' };
  const notify = {
    url: await seal(`http://127.0.0.1:${port}/hooks/berth`, f.sealingPublicJwk, { use: 'notify-url', ...where }),
    secret: await seal('hook-key', f.sealingPublicJwk, { use: 'notify-secret', ...where }),
    timeout: 2,
  };
  await deployJobs(v1, { boom: job(['sh', '-c', 'echo before the fall; exit 3'], { schedule: '*/2 * * * * *' }) }, { notify });
  const s = scheduler();
  await s.start();
  try {
    const hook = await waitFor('the hook to be called', () => received[0], 30_000, { intervalMs: 100 });
    const event = JSON.parse(hook.body) as Record<string, unknown>;
    assert.equal(event.event, 'cron.failed');
    assert.equal(event.job, 'boom');
    assert.equal(event.host, 'test-host-1');
    assert.equal(event.exit_code, 3);
    assert.equal(event.outcome, 'failed');
    assert.match(String(event.output_tail), /before the fall/);
    const signed = createHmac('sha256', 'hook-key').update(`${hook.headers['x-berth-timestamp']}.${hook.body}`).digest('hex');
    assert.equal(hook.headers['x-berth-signature'], `sha256=${signed}`);
    await waitFor('the run to record the notification', () => runsOf('boom').find((r) => r.notify === 'sent'), 10_000);
  } finally {
    await s.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }

  // The same hook, now closed: the run records the failure and an audit row; nothing retries it.
  const s2 = scheduler();
  await s2.start();
  try {
    const run = await waitFor('a failed notification', () => runsOf('boom').find((r) => r.notify?.startsWith('failed:')), 30_000, { intervalMs: 100 });
    assert.match(run.notify!, /^failed: ECONNREFUSED$/);
    const audit = f.store.audit.list({ service: f.service, limit: 200 }).find((a) => a.action === 'cron.notify_failed' && a.detail.run === run.id);
    assert.ok(audit, 'audited');
    assert.ok(!JSON.stringify(audit).includes(String(port)), 'the hook URL (it may carry a token) is not in the audit row');
  } finally {
    await s2.stop();
  }
});

test('removing the service stops its running job, removes the container and leaves no schedule or rows', async () => {
  await deployJobs(v1, { long: job(['sleep', '60'], { schedule: '*/2 * * * * *', timeout: 60, concurrency: 'allow' }) });
  const s = scheduler();
  await s.start();
  try {
    await waitFor('a running job container', async () => ((await cronContainers('long')).some((c) => c.state === 'running') ? true : undefined), 30_000, { intervalMs: 200 });
    const removed = await f.engine.removeService({ service: f.service, destination: '', keyId: 'test' });
    assert.ok(removed.containers.length >= 1);
    await s.serviceRemoved({ service: f.service, destination: '' });
    assert.deepEqual(await cronContainers('long'), []);
    assert.deepEqual(s.entries({ service: f.service, destination: '' }), []);
    assert.deepEqual(runsOf('long'), []);
    assert.equal(f.store.cron.state({ service: f.service, destination: '', job: 'long' }), undefined);
  } finally {
    await s.stop();
  }
});
