// Between deploys, a route over several replicas follows the replicas that
// run: one that stopped leaves it, one running again (at any address) comes
// back once its health check passes. Through the engine's ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOST, startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';

const PROXY = { hosts: [HOST], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 1 } };

async function serving(replicas: number): Promise<{ u: UnitEngine; names: string[] }> {
  const u = await startUnitEngine();
  const d = await u.deploy(u.manifest('v1', { roles: { web: { proxy: PROXY, ...(replicas > 1 ? { replicas } : {}) } } }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  const first = u.containerName('v1');
  return { u, names: Array.from({ length: replicas }, (_, i) => (i === 0 ? first : `${first}-${i + 1}`)) };
}

const target = (u: UnitEngine, name: string) => `${u.docker.byName(name)!.ip}:80`;
const stop = (u: UnitEngine, name: string) => u.docker.stop(u.docker.byName(name)!.id);
const start = (u: UnitEngine, name: string) => u.docker.start(u.docker.byName(name)!.id);

test('a stopped replica leaves the route; started again it comes back at its new address, in replica order', async () => {
  const { u, names } = await serving(3);
  const [a, b, c] = names as [string, string, string];
  await stop(u, b);
  await u.engine.watchReplicas();
  assert.deepEqual(u.router.live.routes[0]?.target, [target(u, a), target(u, c)]);

  await start(u, b);
  await u.engine.watchReplicas();
  assert.deepEqual(u.router.live.routes[0]?.target, [target(u, a), target(u, b), target(u, c)]);
  assert.equal(u.store.routes.all()[0]?.health_path, '/up', 'the rest of the route is kept');
});

test('a replica running again but failing its health check stays out until it passes', async () => {
  const { u, names } = await serving(2);
  const [a, b] = names as [string, string];
  await stop(u, b);
  await u.engine.watchReplicas();
  assert.equal(u.router.live.routes[0]?.target, target(u, a), 'one left: a plain target');
  u.docker.health = (c) => (c.name === b ? { ok: false, detail: 'HTTP 503' } : { ok: true, detail: 'HTTP 200' });
  await start(u, b);
  await u.engine.watchReplicas();
  assert.equal(u.router.live.routes[0]?.target, target(u, a));
  u.docker.health = () => ({ ok: true, detail: 'HTTP 200' });
  await u.engine.watchReplicas();
  assert.deepEqual(u.router.live.routes[0]?.target, [target(u, a), target(u, b)]);
});

test('with every replica stopped the route keeps its targets: nothing else could serve', async () => {
  const { u, names } = await serving(2);
  const before = u.routedTo();
  for (const n of names) await stop(u, n);
  await u.engine.watchReplicas();
  assert.equal(u.routedTo(), before);
});

test('a single container is not watched: its route stays as the deploy made it', async () => {
  const { u, names } = await serving(1);
  const before = u.routedTo();
  const accepted = u.router.accepted;
  await stop(u, names[0]!);
  await u.engine.watchReplicas();
  assert.equal(u.routedTo(), before);
  assert.equal(u.router.accepted, accepted);
});

test('while a deploy of the service is under way the watch leaves its route alone', async () => {
  const { u, names } = await serving(3);
  const before = u.routedTo();
  u.accept(u.manifest('v2', { roles: { web: { proxy: PROXY, replicas: 3 } } }));
  await stop(u, names[0]!);
  await u.engine.watchReplicas();
  assert.equal(u.routedTo(), before);
});
