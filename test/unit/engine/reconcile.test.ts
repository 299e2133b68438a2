// Settling a deploy a restart or an engine failure interrupted, through the
// engine's ports: before the switch it is undone, at or after it finished.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeployState } from '../../../shared/api-types.js';
import { startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';
import { waitFor } from '../../support/wait.js';

async function serving(): Promise<{ u: UnitEngine; v1: string; v1Target: string }> {
  const u = await startUnitEngine();
  const d = await u.deploy(u.manifest('v1'));
  assert.equal(d.state, 'DONE', d.error ?? '');
  return { u, v1: u.containerName('v1'), v1Target: u.routedTo()! };
}

/** Starts deploying v2 on an engine that freezes for good once it entered `state`, as an agent killed there. */
async function frozenAt(u: UnitEngine, state: DeployState): Promise<number> {
  const d = u.accept(u.manifest('v2'));
  const frozen = u.restart(() => ({ afterState: (s) => (s === state ? new Promise<void>(() => {}) : Promise.resolve()) }));
  void frozen.run(d.id);
  await waitFor(`deploy at ${state}`, () => u.store.getDeploy(d.id)?.state === state);
  return d.id;
}

test('an agent restarted while a deploy was STARTED undoes it: v2 removed, v1 keeps serving', async () => {
  const { u, v1, v1Target } = await serving();
  const id = await frozenAt(u, 'STARTED');
  assert.deepEqual(u.containers().running, [v1, u.containerName('v2')].sort());

  await u.restart().reconcile();

  const d = u.store.getDeploy(id)!;
  assert.equal(d.state, 'REVERTED');
  assert.equal(d.error, 'agent restarted during STARTED; release abandoned');
  assert.deepEqual(u.states(id), ['RECEIVED', 'VERIFIED', 'PULLED', 'STARTED', 'REVERTED']);
  assert.deepEqual(u.containers(), { running: [v1], stopped: [] });
  assert.equal(u.routedTo(), v1Target);
});

test('an agent restarted right after the switch finishes the deploy: v1 drained and stopped, v2 serves', async () => {
  const { u, v1 } = await serving();
  const id = await frozenAt(u, 'SWITCHED');

  await u.restart().reconcile();

  const d = u.store.getDeploy(id)!;
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.deepEqual(u.states(id), ['RECEIVED', 'VERIFIED', 'PULLED', 'STARTED', 'HEALTHY', 'SWITCHED', 'DRAINED', 'DONE']);
  const v2 = u.containerName('v2');
  assert.deepEqual(u.containers(), { running: [v2], stopped: [v1] });
  assert.equal(u.routedTo(), `${u.docker.byName(v2)!.ip}:80`);
  assert.ok(u.store.events(id).some((e) => e.message === 'agent restarted during SWITCHED; finishing the switch'));
});

test('a restart while the router is down leaves a switched deploy for the retry loop, which finishes it once the router is back', async () => {
  const { u, v1 } = await serving();
  const id = await frozenAt(u, 'SWITCHED');
  u.router.down = true;
  const engine = u.restart();

  await engine.reconcile();
  assert.equal(u.store.getDeploy(id)!.state, 'SWITCHED');
  assert.deepEqual(u.containers().running, [v1, u.containerName('v2')].sort());

  u.router.down = false;
  await engine.retryStranded();
  assert.equal(u.store.getDeploy(id)!.state, 'DONE');
  assert.deepEqual(u.containers().running, [u.containerName('v2')]);
});

test('an engine failure past the switch is settled right away: the deploy still reaches DONE', async () => {
  const { u, v1 } = await serving();
  const d = u.accept(u.manifest('v2'));
  const failing = u.restart(() => ({
    afterState: async (s) => {
      if (s === 'DRAINED') throw new Error('disk I/O error');
    },
  }));
  await failing.run(d.id);

  const after = u.store.getDeploy(d.id)!;
  assert.equal(after.state, 'DONE', after.error ?? '');
  assert.equal(after.error, null);
  assert.deepEqual(u.containers(), { running: [u.containerName('v2')], stopped: [v1] });
  assert.ok(u.store.events(d.id).some((e) => e.message === 'deploy interrupted during DRAINED; finishing the switch'));
});

test('a restart removes a container no release owns, and keeps the routed one', async () => {
  const { u, v1, v1Target } = await serving();
  const id = await frozenAt(u, 'STARTED');
  // The deploy record says it is over, but its container is still there: an orphan.
  u.store.setState(id, 'REVERTED', 'test');

  await u.restart().reconcile();

  assert.deepEqual(u.containers(), { running: [v1], stopped: [] });
  assert.equal(u.routedTo(), v1Target);
});
