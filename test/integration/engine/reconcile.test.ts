// What the agent does at start: finish or undo deploys a crash interrupted,
// remove orphans, repoint routes, resend the route table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../agent/engine/deploy.js';
import { createRouterClient } from '../../../agent/router/client.js';
import { dockerOk } from '../../support/docker-cli.js';
import { startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { waitFor } from '../../support/router-fixtures.js';
import { pauseAt } from '../../../agent/test-seams/pause-at.js';

let f: EngineFixture;
before(async () => {
  f = await startEngineFixture('rec');
  const d = await f.deploy(f.manifest('r1', await f.digestOf('v1')));
  assert.equal(d.state, 'DONE', d.error ?? '');
});
after(async () => {
  await f?.close();
});

const byRelease = async () => Object.fromEntries((await f.containers()).map((c) => [c.labels['berth.release'], c.state]));

/** Starts a deploy on an engine that freezes after entering `state`, as the crash tests' agent does. */
async function deployFrozenAt(state: 'STARTED' | 'SWITCHED', version: string, image: string, over: Record<string, unknown> = {}): Promise<number> {
  const d = f.accept(f.manifest(version, image, over));
  void f.restartEngine({}, () => ({ afterState: pauseAt(f.stateDir, state) })).run(d.id);
  await waitFor(`pause at ${state}`, () => existsSync(join(f.stateDir, `paused-at-${state}`)), 60_000);
  return d.id;
}

test('crash at STARTED: reconcile removes the new container, reverts, the old keeps serving', async () => {
  const id = await deployFrozenAt('STARTED', 'r2', await f.digestOf('v2'));
  assert.equal((await byRelease()).r2, 'running', 'the new container exists at the pause');

  await f.restartEngine().reconcile();

  const d = f.store.getDeploy(id)!;
  assert.equal(d.state, 'REVERTED');
  assert.equal(d.error, 'agent restarted during STARTED; release abandoned');
  assert.deepEqual(await byRelease(), { r1: 'running' });
  assert.equal((await f.get()).body, 'v1\n');
});

test('crash at SWITCHED: reconcile finishes the drain, stops the old, marks DONE', async () => {
  // A slow request to r1 is still in flight when the agent dies after the switch.
  const inflight = f.get('/cgi-bin/slow?8');
  const id = await deployFrozenAt('SWITCHED', 'r3', await f.digestOf('v3'), { drain_timeout: 20 });
  assert.equal((await f.get()).body, 'v3\n', 'switched before the crash');

  await f.restartEngine().reconcile();

  const slow = await inflight;
  assert.deepEqual([slow.status, slow.body], [200, 'v1\n'], 'the in-flight request to the old release finished');
  assert.ok(f.store.events(id).some((e) => /web: old target .* drained/.test(e.message)));

  assert.equal(f.store.getDeploy(id)!.state, 'DONE');
  assert.deepEqual(await byRelease(), { r1: 'exited', r3: 'running' });
  assert.equal((await f.get()).body, 'v3\n');
  assert.equal(f.store.current(f.service, '')?.version, 'r3');
});

test("orphans are removed; the routed and the retained containers stay, and so does another agent's container", async () => {
  const image = await f.digestOf('v2');
  const labels = ['berth.kind=app', `berth.service=${f.service}`, 'berth.role=web', 'berth.destination=', 'berth.deploy=9999'];
  const ghost = async (release: string, agent: string) =>
    dockerOk(f.engineHost, ['create', '--name', `${f.service}-web-${release}`, ...[...labels, `berth.release=${release}`, `berth.agent=${agent}`].flatMap((l) => ['--label', l]), image]);
  await ghost('ghost', f.agentId);
  await ghost('theirs', 'o'.repeat(43));
  assert.equal((await byRelease()).ghost, 'created');

  await f.restartEngine().reconcile();

  assert.deepEqual(await byRelease(), { r1: 'exited', r3: 'running', theirs: 'created' });
  await dockerOk(f.engineHost, ['rm', '-f', `${f.service}-web-theirs`]);
  assert.equal((await f.get()).body, 'v3\n');
});

test('a routed container that was stopped is started again and its route follows its address', async () => {
  const [r3] = (await f.containers()).filter((c) => c.labels['berth.release'] === 'r3');
  assert.ok(r3);
  await dockerOk(f.engineHost, ['stop', '-t', '1', r3.id]);
  // A stale address in the table, as after a reboot that handed out new IPs.
  const route = f.store.routes.all()[0]!;
  f.store.routes.set(f.service, '', { ...route, target: '10.255.255.254:80' });
  // No request through the stale route here: on a shared engine r3's old address
  // may already belong to another container, or to nobody (a connect that hangs).

  await f.restartEngine().reconcile();

  const ip = (await f.containers()).find((c) => c.id === r3.id)?.ips.berth;
  assert.ok(ip);
  assert.deepEqual(f.store.routes.all().map((r) => r.target), [`${ip}:80`]);
  assert.equal((await f.get()).body, 'v3\n');
});

test('syncRoutes resends the table to a router that is ahead or different, and tolerates a dead router', async () => {
  const client = createRouterClient(f.router.socketPath);
  const routerVersion = (await client.getRoutes()).version;
  await client.putRoutes({ version: routerVersion + 50, routes: [] });
  assert.equal((await f.get()).status, 503, 'router lost the route');

  await f.engine.syncRoutes();

  assert.equal((await f.get()).body, 'v3\n');
  assert.equal(f.router.version(), f.store.routes.version());
  assert.ok(f.router.version() > routerVersion + 50);

  const deadRouter = createEngine({
    store: f.store,
    docker: f.docker,
    router: createRouterClient(join(f.stateDir, 'no-such.sock')),
    config: { stateDir: f.stateDir, network: 'berth', networkSubnet: '10.0.0.0/24', hostname: 'h', sealingPrivateJwk: {} },
    log: { info() {}, warn() {}, error() {} },
  });
  await deadRouter.syncRoutes(); // resolves: the periodic sync tries again later
});

test("a container of another service that happens to have the routed container's name is never routed to", async () => {
  // f.service is `rec-<hex>`: service `rec`, role `<hex>-web`, release r3 gives the same name.
  const [r3] = (await f.containers()).filter((c) => c.labels['berth.release'] === 'r3');
  assert.ok(r3);
  const route = f.store.routes.all()[0]!;
  // r3 keeps running (and its address) under another name; the impostor takes its name.
  const name = f.containerName('r3');
  await dockerOk(f.engineHost, ['rename', r3.id, `${name}-moved`]);
  const [other, role] = [f.service.split('-')[0]!, `${f.service.split('-')[1]}-web`];
  const labels = ['berth.kind=app', `berth.service=${other}`, `berth.role=${role}`, 'berth.destination=', 'berth.release=r3', 'berth.deploy=1', `berth.agent=${f.agentId}`];
  await dockerOk(f.engineHost, ['run', '-d', '--name', name, '--network', 'berth', ...labels.flatMap((l) => ['--label', l]), await f.digestOf('v2')]);
  try {
    await f.restartEngine().reconcile();
    assert.deepEqual(f.store.routes.all().map((r) => r.target), [route.target], 'the route was not moved to the impostor');
    assert.equal((await f.get()).body, 'v3\n');
  } finally {
    await dockerOk(f.engineHost, ['rm', '-f', name]);
    await dockerOk(f.engineHost, ['rename', r3.id, name]);
  }
});
