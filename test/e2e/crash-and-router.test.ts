// The agent can die at any moment without breaking what is served: the router
// is its own process, and a restarted agent finishes or undoes what it was doing.
import { routeTargets } from '../../shared/routes.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitForFile } from '../support/berth-host.js';
import { docker } from '../support/docker-cli.js';
import { waitFor } from '../support/wait.js';
import { createRouterClient } from '../../agent/router/client.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

let e: E2eApp;

before(async () => {
  e = await setupApp('crash');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});

after(async () => e?.teardown());

async function routerTargets(): Promise<string[]> {
  const h = e.hosts[0]!;
  const { createRouterClient } = await import('../../agent/router/client.js');
  const set = await createRouterClient(h.routerSocket).getRoutes();
  return set.routes.filter((r) => r.service === e.service).flatMap((r) => routeTargets(r));
}

async function containerIp(engineHost: string, name: string): Promise<string> {
  const r = await docker(engineHost, ['inspect', '-f', '{{(index .NetworkSettings.Networks "berth").IPAddress}}', name]);
  return r.stdout.trim();
}

async function deployRecord(version: string): Promise<{ state: string }> {
  const { openStore } = await import('../../agent/store/index.js');
  const store = openStore(`${e.hosts[0]!.stateDir}/berth.db`);
  try {
    const row = store.dump().deploys!.find((d) => (d as { version: string }).version === version) as { state: string };
    return row;
  } finally {
    store.close();
  }
}

async function assertConsistent(expectBody: string, expectRelease: string): Promise<void> {
  const h = e.hosts[0]!;
  assert.equal((await h.get(e.hostHeader)).body, expectBody);
  const containers = await e.containers();
  const running = containers.filter((c) => c.state === 'running');
  assert.deepEqual(running.map((c) => c.labels['berth.release']), [expectRelease], 'exactly one release serves');
  const known = new Set(['r1', 'r2', 'r3']);
  for (const c of containers) assert.ok(known.has(c.labels['berth.release']!), `no orphan: ${c.name}`);
  const targets = await routerTargets();
  assert.equal(targets.length, 1);
  const ip = await containerIp(h.engine.host, running[0]!.name);
  assert.equal(targets[0], `${ip}:80`, "the router's target is the serving container");
}

test('kill -9 at STARTED: after restart the new container is gone, the old serves, the record is final', async () => {
  const h = e.hosts[0]!;
  await h.stop();
  await h.startRouter();
  await h.startAgent({ BERTH_TEST_PAUSE_AT: 'STARTED' });
  e.configure('v2');
  const push = e.push('r2');
  await waitForFile(h.pausedAt('STARTED'));
  assert.equal((await e.containers()).filter((c) => c.labels['berth.release'] === 'r2').length, 1, 'new container exists at the pause');
  await h.killAgent();
  const r = await push;
  assert.notEqual(r.code, 0, 'the CLI reports the lost agent');

  await h.startAgent();
  await assertConsistent('v1\n', 'r1');
  assert.equal((await e.containers()).filter((c) => c.labels['berth.release'] === 'r2').length, 0);
  assert.equal((await deployRecord('r2')).state, 'REVERTED');
});

test('kill -9 while draining: after restart the drain finishes, the new release serves, the record is final', async () => {
  const h = e.hosts[0]!;
  // A slow request on the old release keeps the drain going long enough to crash inside it.
  const slow = h.get(e.hostHeader, '/cgi-bin/slow?8').then((r) => ({ ...r, endedAt: Date.now() }));
  // It must be in flight on the old release before the switch, however busy the machine.
  const router = createRouterClient(h.routerSocket, { timeoutMs: 2_000 });
  await waitFor('the slow request in flight at the router', async () => Object.values(await router.targets()).some((t) => t.inflight > 0), 10_000);
  e.configure('v3');
  const push = e.push('r3');
  const switchDeadline = Date.now() + 30_000;
  while ((await h.get(e.hostHeader)).body !== 'v3\n') {
    assert.ok(Date.now() < switchDeadline, 'the router never switched to v3');
    await new Promise((r) => setTimeout(r, 50));
  }
  const old = (await e.containers()).find((c) => c.labels['berth.release'] === 'r1');
  assert.equal(old?.state, 'running', 'the old release is still up, draining');
  await h.killAgent();
  await push;

  await h.startAgent();
  const done = await slow;
  assert.equal(done.status, 200);
  assert.equal(done.body, 'v1\n', 'the request in flight at the crash finished on the old release');
  // Reconcile finishes the drain, then stops the old container.
  const deadline = Date.now() + 30_000;
  while ((await e.containers()).filter((c) => c.state === 'running').length !== 1) {
    assert.ok(Date.now() < deadline, 'the old container was never stopped');
    await new Promise((r) => setTimeout(r, 200));
  }
  await assertConsistent('v3\n', 'r3');
  assert.equal((await deployRecord('r3')).state, 'DONE');
  const stopped = Date.parse((await docker(h.engine.host, ['inspect', '-f', '{{.State.FinishedAt}}', old!.name])).stdout.trim());
  assert.ok(stopped >= done.endedAt - 1000, 'the old container stopped only after the slow request finished');
});

test('the router keeps serving with the agent dead, and after its own restart from its snapshot', async () => {
  const h = e.hosts[0]!;
  const routerPid = h.router!.pid;
  await h.killAgent();
  for (let i = 0; i < 20; i++) assert.equal((await h.get(e.hostHeader)).body, 'v3\n');
  assert.equal(h.router!.pid, routerPid, 'same router process');
  assert.equal(h.router!.child.exitCode, null);

  await h.killRouter();
  await h.startRouter();
  assert.notEqual(h.router!.pid, routerPid);
  for (let i = 0; i < 20; i++) assert.equal((await h.get(e.hostHeader)).body, 'v3\n');
  await h.startAgent();
});
