// `deploy app stop|start` through the real engine over a fake Docker and an
// in-memory router: the stop outlives a restart (reconcile neither starts nor
// routes it), the replica watch leaves it alone, start routes the new address,
// and a deploy that goes live ends the stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUnitEngine } from '../../support/unit-engine.js';

const who = { service: 'app', destination: '', keyId: 'k1' };

test('stop survives a restart and the replica watch; start serves it again at its new address', async () => {
  const u = await startUnitEngine();
  const v1 = u.containerName('v1');
  const v1b = `${v1}-2`;
  assert.equal((await u.deploy(u.manifest('v1', { roles: { web: { replicas: 2, proxy: { hosts: ['app.test'], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 1 } } } } }))).state, 'DONE');
  assert.ok(u.routedTo());

  const stopped = await u.engine.appState.stop(who);
  assert.deepEqual(stopped.roles.map((r) => [r.role, r.stopped, r.changed]), [['web', true, true]]);
  assert.equal(u.routedTo(), undefined);
  assert.equal(u.containers().running.length, 0);

  const engine = u.restart();
  await engine.reconcile();
  await engine.watchReplicas();
  await engine.syncRoutes();
  assert.equal(u.routedTo(), undefined, 'still unrouted after the restart');
  assert.equal(u.containers().running.length, 0, 'still stopped after the restart');

  const started = await engine.appState.start(who);
  assert.deepEqual(started.roles.map((r) => [r.role, r.stopped, r.changed]), [['web', false, true]]);
  assert.equal(u.containers().running.length, 2);
  assert.equal(u.routedTo(), [v1, v1b].map((n) => `${u.docker.byName(n)!.ip}:80`).join(' '));
});

test('a deploy that goes live ends the stop; one that fails before its switch leaves it', async () => {
  const u = await startUnitEngine();
  assert.equal((await u.deploy(u.manifest('v1'))).state, 'DONE');
  await u.engine.appState.stop(who);
  u.docker.health = (c) => (c.name === u.containerName('v2') ? { ok: false, detail: 'HTTP 500' } : { ok: true, detail: 'HTTP 200' });
  const failed = await u.deploy(u.manifest('v2'));
  assert.equal(failed.state, 'REVERTED');
  assert.deepEqual(u.store.appState.get('app', '').map((r) => r.role), ['web']);
  assert.equal(u.routedTo(), undefined);
  const d = await u.deploy(u.manifest('v3'));
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.deepEqual(u.store.appState.get('app', ''), []);
  assert.equal(u.routedTo(), `${u.docker.byName(u.containerName('v3'))!.ip}:80`);
  const audit = u.store.audit.list({ service: 'app', limit: 5 }).find((e) => e.action === 'app.start');
  assert.equal(audit?.detail.by_deploy, d.id);
});
