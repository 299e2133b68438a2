// The deploy state machine through its ports (FakeDocker, the in-memory router,
// SQLite in memory): the happy path, and a failure in every phase with what a
// user then sees — the recorded states and error, the containers, the route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import type { DeployState } from '../../../shared/api-types.js';
import { UpstreamError } from '../../../shared/errors.js';
import { startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';

const HAPPY: DeployState[] = ['RECEIVED', 'VERIFIED', 'PULLED', 'STARTED', 'HEALTHY', 'SWITCHED', 'DRAINED', 'DONE'];
const OTHER_IMAGE = `registry.test/app@sha256:${'b'.repeat(64)}`;

/** An engine serving v1, as before every deploy below. */
async function serving(): Promise<{ u: UnitEngine; v1: string; v1Target: string }> {
  const u = await startUnitEngine();
  const d = await u.deploy(u.manifest('v1'));
  assert.equal(d.state, 'DONE', d.error ?? '');
  return { u, v1: u.containerName('v1'), v1Target: u.routedTo()! };
}

test('a deploy records every state in order, switches the route to the new container, then drains and stops the old', async () => {
  const { u, v1, v1Target } = await serving();
  u.phases.length = 0;
  const d = await u.deploy(u.manifest('v2'));

  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.equal(d.error, null);
  assert.deepEqual(u.states(d.id), HAPPY);
  assert.deepEqual(u.phases, ['verify', 'plan', 'certificates', 'pull', 'accessories', 'assets', 'launch', 'wait healthy', 'backups', 'switch', 'drain', 'finish']);
  const v2 = u.containerName('v2');
  assert.deepEqual(u.containers(), { running: [v2], stopped: [v1] });
  const ip = u.docker.byName(v2)!.ip;
  assert.equal(u.routedTo(), `${ip}:80`);
  assert.notEqual(u.routedTo(), v1Target);
  // The old one stops only after the router sends traffic to the new one.
  const actions = u.docker.actions.slice(u.docker.actions.indexOf(`create ${v2}`));
  assert.deepEqual(actions, [`create ${v2}`, `start ${v2}`, `stop ${v1}`]);
  assert.equal(u.store.current('app', '')?.version, 'v2');
  const messages = u.store.events(d.id).map((e) => e.message);
  assert.ok(messages.includes(`image ${u.manifest('v2').image} already present`), messages.join('\n'));
  assert.ok(messages.some((m) => m.startsWith(`web: old target ${v1Target} drained`)), messages.join('\n'));
});

test('the first deploy of a service pulls the image and routes to its container', async () => {
  const u = await startUnitEngine();
  const d = await u.deploy(u.manifest('v1'));
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.deepEqual(u.states(d.id), HAPPY);
  assert.deepEqual(u.docker.actions[0], `pull ${u.manifest('v1').image}`);
  const v1 = u.containerName('v1');
  assert.deepEqual(u.containers(), { running: [v1], stopped: [] });
  assert.equal(u.routedTo(), `${u.docker.byName(v1)!.ip}:80`);
});

interface FailureCase {
  phase: string;
  /** Sets up the fault; returns the engine to deploy v2 with when it needs other deps. */
  arrange(u: UnitEngine, v2: string): ReturnType<UnitEngine['restart']> | void;
  over?: Record<string, unknown>;
  /** The last state before FAILED. */
  reached: DeployState;
  error: RegExp;
  /** Where v2's container ends: gone, or still running because the router may send it traffic. */
  v2: 'gone' | 'running';
}

const failures: FailureCase[] = [
  {
    phase: 'verify: the stored manifest is missing',
    arrange: (u) => u.restart((deps) => ({ store: { ...deps.store, getRelease: () => undefined } })),
    reached: 'RECEIVED',
    error: /^the release manifest of this deploy is missing from the store$/,
    v2: 'gone',
  },
  {
    phase: 'plan: a guardrail narrowed since the release was accepted',
    arrange: (u) => u.restart((deps) => ({ config: { ...deps.config, guardrails: guardrailPolicy({ allowBinds: ['/srv'] }) } })),
    over: { roles: { web: { proxy: { hosts: ['app.test'], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 1 } }, volumes: ['/data/app:/app'] } } },
    reached: 'VERIFIED',
    error: /refused by this agent's guardrails/,
    v2: 'gone',
  },
  {
    phase: 'plan: a container Berth did not make holds the name',
    arrange: (u, v2) => void u.docker.containers.set('foreign', { id: 'foreign', name: v2, image: 'x', labels: {}, running: false, exitCode: 0, ip: null, createdAt: 0, finishedAt: 0 }),
    reached: 'VERIFIED',
    error: /container name .* is taken by a container Berth did not create/,
    v2: 'gone',
  },
  {
    phase: 'pull: the registry refuses',
    arrange: (u) => u.docker.failOn('pull', new UpstreamError('docker pull failed: manifest unknown')),
    over: { image: OTHER_IMAGE },
    reached: 'VERIFIED',
    error: /^docker pull failed: manifest unknown$/,
    v2: 'gone',
  },
  {
    phase: 'launch: create fails',
    arrange: (u) => u.docker.failOn('createContainer', new UpstreamError('docker create failed: no space left on device')),
    reached: 'PULLED',
    error: /^docker create failed: no space left on device$/,
    v2: 'gone',
  },
  {
    phase: 'launch: start fails',
    arrange: (u, v2) => u.docker.failOn('start', new UpstreamError('docker start failed: port is already allocated'), (name) => name === v2),
    reached: 'PULLED',
    error: /^docker start failed: port is already allocated$/,
    v2: 'gone',
  },
  {
    phase: 'wait healthy: the container exits',
    arrange: (u) => {
      u.docker.exitOnStart = (c) => (c.labels['berth.release'] === 'v2' ? 3 : undefined);
    },
    reached: 'STARTED',
    error: /^container \S+ exited with code 3 before it became healthy; last log lines:\n\S+: fake app log line$/,
    v2: 'gone',
  },
  {
    phase: 'wait healthy: the health check never answers 2xx',
    arrange: (u) => {
      u.docker.health = (c) => (c.labels['berth.release'] === 'v2' ? { ok: false, detail: 'HTTP 500' } : { ok: true, detail: 'HTTP 200' });
    },
    reached: 'STARTED',
    error: /^health check GET \/up on port 80 did not return 2xx within 1s \(last: HTTP 500\)$/,
    v2: 'gone',
  },
  {
    phase: 'switch: the router refuses the new table',
    arrange: (u) => {
      u.router.putFaults = ['refuse'];
    },
    reached: 'HEALTHY',
    error: /^the router did not accept the route table: router refused the route set$/,
    v2: 'gone',
  },
  {
    phase: 'switch: the router applies the table but its answer is lost',
    arrange: (u) => {
      u.router.putFaults = ['lost-answer'];
    },
    reached: 'HEALTHY',
    error: /^the router did not accept the route table: router did not answer within 5s$/,
    v2: 'gone',
  },
  {
    phase: 'switch: the router is unreachable',
    arrange: (u) => {
      u.router.down = true;
    },
    reached: 'HEALTHY',
    error: /^the router did not accept the route table: cannot reach the router/,
    v2: 'running',
  },
];

for (const c of failures) {
  test(`failure in ${c.phase} → REVERTED, v1 keeps serving, v2 ${c.v2}`, async () => {
    const { u, v1, v1Target } = await serving();
    const v2 = u.containerName('v2');
    const engine = c.arrange(u, v2) ?? u.engine;
    const accepted = u.accept(u.manifest('v2', c.over));
    await engine.run(accepted.id);
    u.router.down = false;

    const d = u.store.getDeploy(accepted.id)!;
    assert.equal(d.state, 'REVERTED');
    assert.match(d.error ?? '', c.error);
    const reached = HAPPY.slice(0, HAPPY.indexOf(c.reached) + 1);
    assert.deepEqual(u.states(d.id), [...reached, 'FAILED', 'REVERTED']);
    assert.equal(u.routedTo(), v1Target);
    assert.equal(u.store.current('app', '')?.version, 'v1');
    assert.equal(u.store.routes.all()[0]?.target, v1Target);
    const { running } = u.containers();
    assert.deepEqual(running, c.v2 === 'running' ? [v1, v2].sort() : [v1]);
    if (c.v2 === 'gone') assert.equal(u.docker.byName(v2)?.labels['berth.release'], undefined, `${v2} is left`);
    else assert.match(u.store.events(d.id).map((e) => e.message).join('\n'), new RegExp(`left ${v2} in place`));
  });
}

test('failure in drain: the old container will not stop → DONE anyway, the new one serves, the old runs on', async () => {
  const { u, v1 } = await serving();
  u.docker.failOn('stop', new UpstreamError('docker stop failed: timeout'), (name) => name === v1);
  const d = await u.deploy(u.manifest('v2'));

  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.deepEqual(u.states(d.id), HAPPY);
  const v2 = u.containerName('v2');
  assert.deepEqual(u.containers().running, [v1, v2].sort());
  assert.equal(u.routedTo(), `${u.docker.byName(v2)!.ip}:80`);
  assert.ok(u.store.events(d.id).some((e) => e.message === `web: could not stop ${v1}: docker stop failed: timeout`));
});

test('failure in finish: an old container that cannot be removed is reported, the deploy is DONE', async () => {
  const u = await startUnitEngine();
  const over = { retain_containers: 1 };
  for (const v of ['v1', 'v2']) assert.equal((await u.deploy(u.manifest(v, over))).state, 'DONE');
  const v1 = u.containerName('v1');
  u.docker.failOn('remove', new UpstreamError('docker remove failed: device busy'), (name) => name === v1);
  const d = await u.deploy(u.manifest('v3', over));

  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.deepEqual(u.states(d.id), HAPPY);
  assert.deepEqual(u.containers(), { running: [u.containerName('v3')], stopped: [v1, u.containerName('v2')].sort() });
  assert.ok(u.store.events(d.id).some((e) => e.message === `web: could not remove ${v1}: docker remove failed: device busy`));
});

test('failure in wait healthy of a role without proxy: a worker that exits undoes the whole release', async () => {
  const u = await startUnitEngine();
  const roles = { web: { proxy: { hosts: ['app.test'], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 1 } } }, worker: {} };
  const d1 = await u.deploy(u.manifest('v1', { roles, readiness_delay: 0 }));
  assert.equal(d1.state, 'DONE', d1.error ?? '');
  const v1Target = u.routedTo();
  u.docker.exitOnStart = (c) => (c.labels['berth.release'] === 'v2' && c.labels['berth.role'] === 'worker' ? 1 : undefined);

  const d = await u.deploy(u.manifest('v2', { roles, readiness_delay: 0 }));

  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', new RegExp(`^container ${u.containerName('v2', 'worker')} exited with code 1 before it became healthy`));
  assert.deepEqual(u.containers(), { running: [u.containerName('v1'), u.containerName('v1', 'worker')].sort(), stopped: [] });
  assert.equal(u.routedTo(), v1Target);
});
