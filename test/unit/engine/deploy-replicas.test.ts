// A role with several containers on one server (replicas), through the engine's
// ports: every replica is started and healthy before one route-set change
// points the route at all of them; the old ones are drained and stopped after;
// one failing replica undoes the deploy; a restart brings every replica back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteSet } from '../../../shared/api-types.js';
import { routeTargets } from '../../../shared/routes.js';
import { HOST, startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';
import { waitFor } from '../../support/wait.js';

const PROXY = { hosts: [HOST], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 1 } };
const web = (replicas?: number, over: Record<string, unknown> = {}) => ({
  roles: { web: { proxy: PROXY, ...(replicas !== undefined ? { replicas } : {}) } },
  ...over,
});

/** The names of a release's web containers, replica 1 first. */
function names(u: UnitEngine, version: string, n: number): string[] {
  const first = u.containerName(version);
  return Array.from({ length: n }, (_, i) => (i === 0 ? first : `${first}-${i + 1}`));
}

const targetsOf = (u: UnitEngine, containers: string[]) => containers.map((n) => `${u.docker.byName(n)!.ip}:80`);

/** Every route set the router accepted, in order. */
function recordSets(u: UnitEngine): RouteSet[] {
  const sets: RouteSet[] = [];
  const put = u.router.putRoutes.bind(u.router);
  u.router.putRoutes = async (set) => {
    const r = await put(set);
    sets.push(JSON.parse(JSON.stringify(set)) as RouteSet);
    return r;
  };
  return sets;
}

async function serving3(): Promise<{ u: UnitEngine; v1: string[] }> {
  const u = await startUnitEngine();
  const d = await u.deploy(u.manifest('v1', web(3)));
  assert.equal(d.state, 'DONE', d.error ?? '');
  return { u, v1: names(u, 'v1', 3) };
}

test('three replicas: three containers named -2, -3 after the first, one route balancing over all three', async () => {
  const { u, v1 } = await serving3();
  assert.deepEqual(u.containers(), { running: [...v1].sort(), stopped: [] });
  const route = u.router.live.routes.find((r) => r.hosts.includes(HOST))!;
  assert.deepEqual(route.target, targetsOf(u, v1));
  assert.equal(new Set(routeTargets(route)).size, 3);
  for (const name of v1) assert.equal(u.docker.byName(name)!.labels['berth.release'], 'v1');
});

test('a redeploy starts and checks every new replica, switches all targets in one route-set change, then drains and stops every old one', async () => {
  const { u, v1 } = await serving3();
  const v1Targets = targetsOf(u, v1);
  const sets = recordSets(u);
  const d = await u.deploy(u.manifest('v2', web(3)));

  assert.equal(d.state, 'DONE', d.error ?? '');
  const v2 = names(u, 'v2', 3);
  assert.deepEqual(u.containers(), { running: [...v2].sort(), stopped: [...v1].sort() });
  const v2Targets = targetsOf(u, v2);
  // The route went from all old targets to all new ones at once: never a mix.
  const served = sets.map((s) => s.routes.find((r) => r.hosts.includes(HOST))!).map((r) => routeTargets(r));
  assert.deepEqual(served, [v2Targets]);
  // No old container stops before every new one was started.
  const actions = u.docker.actions.slice(u.docker.actions.indexOf(`create ${v2[0]}`));
  const firstStop = actions.findIndex((a) => a.startsWith('stop '));
  assert.deepEqual(actions.slice(0, firstStop).filter((a) => a.startsWith('start ')), v2.map((n) => `start ${n}`));
  assert.deepEqual(actions.slice(firstStop).sort(), v1.map((n) => `stop ${n}`).sort());
  const messages = u.store.events(d.id).map((e) => e.message);
  for (const t of v1Targets) assert.ok(messages.some((m) => m.startsWith(`web: old target ${t} drained`)), messages.join('\n'));
  for (const n of v2) assert.ok(messages.includes(`web (${n}): GET /up on port 80 answered 2xx`), messages.join('\n'));
});

test('one replica failing its health check fails the deploy: every new container removed, the old replicas keep serving', async () => {
  const { u, v1 } = await serving3();
  const before = u.routedTo();
  const sick = names(u, 'v2', 3)[1]!;
  u.docker.health = (c) => (c.name === sick ? { ok: false, detail: 'HTTP 500' } : { ok: true, detail: 'HTTP 200' });
  const d = await u.deploy(u.manifest('v2', web(3)));

  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', /^health check GET \/up on port 80 did not return 2xx within 1s \(last: HTTP 500\)$/);
  assert.deepEqual(u.containers(), { running: [...v1].sort(), stopped: [] });
  assert.equal(u.routedTo(), before);
  assert.equal(u.store.current('app', '')?.version, 'v1');
});

test('a replica that exits at start fails the deploy the same way', async () => {
  const { u, v1 } = await serving3();
  const dying = names(u, 'v2', 3)[2]!;
  u.docker.exitOnStart = (c) => (c.name === dying ? 3 : undefined);
  const d = await u.deploy(u.manifest('v2', web(3)));
  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', new RegExp(`^container ${dying} exited with code 3 before it became healthy`));
  assert.deepEqual(u.containers(), { running: [...v1].sort(), stopped: [] });
});

test('a role without a proxy runs its replicas too, with no route', async () => {
  const u = await startUnitEngine();
  const d = await u.deploy(u.manifest('v1', { roles: { worker: { cmd: ['bin/jobs'], replicas: 2 } }, readiness_delay: 0 }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  const first = u.containerName('v1', 'worker');
  assert.deepEqual(u.containers(), { running: [first, `${first}-2`], stopped: [] });
  assert.equal(u.router.live.routes.length, 0);
});

test('from three replicas to one and back: one gives a plain target and the names of a single container', async () => {
  const { u, v1 } = await serving3();
  const d2 = await u.deploy(u.manifest('v2', web()));
  assert.equal(d2.state, 'DONE', d2.error ?? '');
  const v2 = u.containerName('v2');
  assert.deepEqual(u.containers(), { running: [v2], stopped: [...v1].sort() });
  assert.equal(u.router.live.routes[0]?.target, `${u.docker.byName(v2)!.ip}:80`);
  const d3 = await u.deploy(u.manifest('v3', web(2)));
  assert.equal(d3.state, 'DONE', d3.error ?? '');
  assert.deepEqual(u.router.live.routes[0]?.target, targetsOf(u, names(u, 'v3', 2)));
});

test('retention keeps whole releases: retain_containers times the replicas', async () => {
  const u = await startUnitEngine();
  for (const v of ['v1', 'v2', 'v3']) assert.equal((await u.deploy(u.manifest(v, web(2, { retain_containers: 1 })))).state, 'DONE');
  assert.deepEqual(u.containers(), { running: names(u, 'v3', 2).sort(), stopped: names(u, 'v2', 2).sort() });
});

test('a rollback to a retained release starts every one of its replicas again', async () => {
  const { u, v1 } = await serving3();
  assert.equal((await u.deploy(u.manifest('v2', web(3)))).state, 'DONE');
  const d = await u.deploy(u.manifest('v1', web(3)));
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.deepEqual(u.containers().running, [...v1].sort());
  assert.deepEqual(u.router.live.routes[0]?.target, targetsOf(u, v1));
  assert.equal(u.docker.actions.filter((a) => a.startsWith('create ')).length, 6, 'started again, not made anew');
});

test('an agent restarted right after the switch finishes it: every old replica drained and stopped', async () => {
  const { u, v1 } = await serving3();
  const d = u.accept(u.manifest('v2', web(3)));
  const frozen = u.restart(() => ({ afterState: (s) => (s === 'SWITCHED' ? new Promise<void>(() => {}) : Promise.resolve()) }));
  void frozen.run(d.id);
  await waitFor('deploy at SWITCHED', () => u.store.getDeploy(d.id)?.state === 'SWITCHED');

  await u.restart().reconcile();

  assert.equal(u.store.getDeploy(d.id)?.state, 'DONE');
  const v2 = names(u, 'v2', 3);
  assert.deepEqual(u.containers(), { running: [...v2].sort(), stopped: [...v1].sort() });
  assert.deepEqual(u.router.live.routes[0]?.target, targetsOf(u, v2));
});

test('after a reboot the restart starts every stopped replica and routes to all of them at their new addresses', async () => {
  const { u, v1 } = await serving3();
  // A reboot: every container stopped, and they come back on other addresses.
  for (const name of v1) await u.docker.stop(u.docker.byName(name)!.id);
  await u.restart().reconcile();
  assert.deepEqual(u.containers(), { running: [...v1].sort(), stopped: [] });
  assert.deepEqual(u.router.live.routes[0]?.target, targetsOf(u, v1));

  // A replica removed by hand: the others still serve.
  await u.docker.remove(u.docker.byName(v1[1]!)!.id, { force: true });
  await u.docker.stop(u.docker.byName(v1[2]!)!.id);
  await u.restart().reconcile();
  assert.deepEqual(u.router.live.routes[0]?.target, targetsOf(u, [v1[0]!, v1[2]!]));
});
