// A role with three containers on one server (replicas), against the real
// agent, router and Docker: requests are spread over all three; a replica
// stopped by hand leaves rotation without failing a request and comes back
// once it runs again; a new release replaces all three under load without a
// failed request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { routeTargets } from '../../shared/routes.js';
import { dockerOk, inspectContainers } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { startLoad } from '../support/load.js';
import { waitFor } from '../support/wait.js';

const REPLICAS = 'replicas:\n  web: 3\n';
let e: E2eApp;

before(async () => {
  e = await setupApp('replicas');
  e.configure('v1', REPLICAS);
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});

after(async () => e?.teardown());

/** Which container answered: each one's KAMAL_CONTAINER_NAME. */
async function answeredBy(): Promise<string> {
  const r = await e.hosts[0]!.get(e.hostHeader, '/cgi-bin/env?KAMAL_CONTAINER_NAME');
  assert.equal(r.status, 200, r.body);
  return r.body.trim();
}

async function answers(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await answeredBy());
  return seen;
}

/** The targets the router balances the app's route over now. */
async function routerTargets(): Promise<string[]> {
  const { createRouterClient } = await import('../../agent/router/client.js');
  const set = await createRouterClient(e.hosts[0]!.routerSocket).getRoutes();
  return set.routes.filter((r) => r.service === e.service).flatMap((r) => [...routeTargets(r)]);
}

/** One GET with a client deadline: what a request meets (`HTTP status after N ms`, or the error). */
function timedGet(path: string, ms: number): Promise<string> {
  const h = e.hosts[0]!;
  const started = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: h.ip, port: h.httpPort, path, headers: { host: e.hostHeader }, agent: false, timeout: ms }, (res) => {
      res.resume();
      res.on('end', () => resolve(`HTTP ${res.statusCode} after ${Date.now() - started} ms`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ms} ms`)));
    req.on('error', (err) => resolve(`${err.message} after ${Date.now() - started} ms`));
  });
}

async function running(release: string): Promise<string[]> {
  return (await e.containers()).filter((c) => c.labels['berth.release'] === release && c.state === 'running').map((c) => c.name).sort();
}

test('three containers answer in turn; one stopped by hand leaves the route, and returns once started and healthy', async (t) => {
  const names = await running('r1');
  assert.equal(names.length, 3, JSON.stringify(names));
  assert.deepEqual([...(await answers(9))].sort(), names, 'round robin reaches every replica');

  const engine = e.hosts[0]!.engine.host;
  const victim = names[1]!;
  const [info] = await inspectContainers(engine, [victim]);
  const victimTarget = `${Object.values(info!.ips)[0]}:80`;
  assert.ok((await routerTargets()).includes(victimTarget), `${victimTarget} is routed`);
  await dockerOk(engine, ['stop', '-t', '1', victim]);
  const stoppedAt = Date.now();
  const early = Promise.all([1, 2, 3].map(() => timedGet('/', 5000)));
  // The agent takes the stopped replica out of the route.
  await waitFor(`${victimTarget} out of the route`, async () => !(await routerTargets()).includes(victimTarget), 10_000, { intervalMs: 100 });
  const met = await early;
  t.diagnostic(`out of the route ${Date.now() - stoppedAt} ms after docker stop returned; three requests sent right after the stop: ${met.join('; ')}`);
  // The router gives up on the stopped replica's address at its connect deadline and asks another one.
  assert.ok(met.every((m) => m.startsWith('HTTP 200 ')), met.join('; '));
  // answeredBy asserts 200 on each.
  const without = await answers(12);
  assert.deepEqual([...without].sort(), names.filter((n) => n !== victim));

  await dockerOk(engine, ['start', victim]);
  await waitFor(`${victim} back in rotation`, async () => (await answers(3)).has(victim), 30_000, { intervalMs: 250, explain: () => e.hosts[0]!.agentLog() });
  assert.equal((await routerTargets()).length, 3);
});

test('a new release replaces all three replicas under load with no failed request; the old ones stop', async (t) => {
  e.configure('v2', REPLICAS);
  const h = e.hosts[0]!;
  const load = startLoad({ ip: h.ip, port: h.httpPort, host: e.hostHeader, accept: ['v1', 'v2'], loops: 4 });
  await waitFor('load running', () => load.report.total > 20);
  const r = await e.push('r2');
  await waitFor('v2 answering under load', () => (load.report.seen.v2 ?? 0) > 20, 10_000);
  const report = await load.stop();
  t.diagnostic(`${report.total} requests, ${report.failures.length} failed, answers ${JSON.stringify(report.seen)}`);
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(report.failures.slice(0, 5), [], `${report.failures.length} failed of ${report.total}`);

  assert.equal((await running('r2')).length, 3);
  assert.deepEqual(await running('r1'), [], 'the old replicas are stopped');
  assert.equal((await answers(3)).size, 3, 'the new replicas share the requests');
});

test('an agent restarted after its replicas stopped starts all three again and routes to each', async () => {
  const h = e.hosts[0]!;
  const names = await running('r2');
  assert.equal(names.length, 3);
  await h.killAgent();
  await dockerOk(h.engine.host, ['stop', '-t', '1', ...names]);
  await h.startAgent();
  // Routed at the addresses they have now, which Docker may have changed.
  const routedNow = async () => {
    if ((await running('r2')).length !== 3) return false;
    const ips = (await inspectContainers(h.engine.host, names)).map((c) => `${Object.values(c.ips)[0]}:80`).sort();
    return JSON.stringify((await routerTargets()).sort()) === JSON.stringify(ips);
  };
  await waitFor('three replicas routed again', routedNow, 30_000, { intervalMs: 250, explain: () => h.agentLog() });
  assert.deepEqual([...(await answers(9))].sort(), names);
});
