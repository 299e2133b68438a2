import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload, type ManifestPayload } from '../../../shared/manifest.js';
import type { Route } from '../../../shared/api-types.js';
import { containerLabels } from '../../../agent/core/containers.js';
import { plan as planWith, type Observed, type ObservedContainer, type Step } from '../../../agent/core/plan.js';
import { minimalManifest } from '../../support/manifest-fixture.js';
import { ConflictError } from '../../../shared/errors.js';

function manifest(version: string, over: Record<string, unknown> = {}): ManifestPayload {
  return parseManifestPayload(
    minimalManifest({
      version,
      roles: { web: { proxy: { hosts: ['demo.test'], app_port: 8080 } } },
      retain_containers: 2,
      ...over,
    }),
  );
}

// The engine fingerprints with an HMAC over unsealed values; here any function of the manifest will do.
const fp = (m: ManifestPayload) => `${m.image}|${JSON.stringify(m.roles)}`;
const plan = (m: ManifestPayload, observed: Observed) =>
  planWith(m, observed, Object.fromEntries(Object.keys(m.roles).map((r) => [r, fp(m)])));

let nextId = 1;
function container(m: ManifestPayload, role: string, running: boolean, createdAt: number, ip: string | null = null): ObservedContainer {
  return {
    id: `id${nextId++}`,
    name: `${m.service}-${role}-${m.version}-gggggg`,
    running,
    labels: containerLabels(m, role, { deployId: nextId, fingerprint: fp(m) }),
    createdAt,
    ip,
  };
}

const kinds = (steps: Step[]) => steps.map((s) => `${s.phase}:${s.kind}`);
const oldRoute = (target: string): Route => ({ service: 'demo', hosts: ['demo.test'], target });

test('fresh deploy: pull, create, http check, route; nothing to drain, stop or prune', () => {
  const m = manifest('v1');
  const steps = plan(m, { imagePresent: false, containers: [], routes: [] });
  assert.deepEqual(kinds(steps), ['PULLED:pull', 'STARTED:create', 'HEALTHY:http-check', 'SWITCHED:route']);
  assert.deepEqual(steps[1], { phase: 'STARTED', kind: 'create', role: 'web', name: 'demo-web-v1-gggggg' });
  assert.deepEqual(steps[2], {
    phase: 'HEALTHY', kind: 'http-check', role: 'web', port: 8080, path: '/up',
    intervalSeconds: 1, requestTimeoutSeconds: 5, timeoutSeconds: 30,
  });
  assert.deepEqual(steps[3], { phase: 'SWITCHED', kind: 'route', role: 'web', service: 'demo', destination: '', previous: null });
});

test('image already present: no pull step', () => {
  const steps = plan(manifest('v1'), { imagePresent: true, containers: [], routes: [] });
  assert.ok(!kinds(steps).includes('PULLED:pull'));
  assert.equal(steps[0]?.kind, 'create');
});

test('v2 over a serving v1: drain the old target, then stop v1 (retained, not pruned)', () => {
  const v1 = container(manifest('v1'), 'web', true, 1000, '10.0.0.2');
  const m = manifest('v2');
  const steps = plan(m, { imagePresent: true, containers: [v1], routes: [oldRoute('10.0.0.2:8080')] });
  assert.deepEqual(kinds(steps), ['STARTED:create', 'HEALTHY:http-check', 'SWITCHED:route', 'DRAINED:drain', 'DRAINED:stop']);
  assert.deepEqual(steps[3], { phase: 'DRAINED', kind: 'drain', role: 'web', target: '10.0.0.2:8080', timeoutSeconds: 30 });
  assert.deepEqual(steps[4], { phase: 'DRAINED', kind: 'stop', role: 'web', containerId: v1.id, name: 'demo-web-v1-gggggg', timeoutSeconds: 10 });
  const route = steps[2];
  assert.equal(route?.kind === 'route' ? route.previous?.target : undefined, '10.0.0.2:8080');
});

test('redeploy of the running release reuses its container and stops nothing', () => {
  const m = manifest('v1');
  const v1 = container(m, 'web', true, 1000, '10.0.0.2');
  const steps = plan(m, { imagePresent: true, containers: [v1], routes: [oldRoute('10.0.0.2:8080')] });
  assert.deepEqual(kinds(steps), ['STARTED:reuse', 'HEALTHY:http-check', 'SWITCHED:route']);
  assert.deepEqual(steps[0], { phase: 'STARTED', kind: 'reuse', role: 'web', name: 'demo-web-v1-gggggg', containerId: v1.id });
});

test('redeploy of the running release with another env, cmd or labels is refused before any step', () => {
  const running = container(manifest('v1'), 'web', true, 1000, '10.0.0.2');
  const message = 'release v1 is already running with a different configuration (env, cmd, labels, volumes, logging or options); push it under a new version';
  const changes = [
    { env: { clear: { A: 'b' } } },
    { cmd: ['other'] },
    { labels: { team: 'x' } },
  ];
  for (const change of changes) {
    const m = manifest('v1', { seq: 2, roles: { web: { ...change, proxy: { hosts: ['demo.test'], app_port: 8080 } } } });
    assert.throws(
      () => plan(m, { imagePresent: true, containers: [running], routes: [oldRoute('10.0.0.2:8080')] }),
      (err: unknown) => err instanceof ConflictError && err.message === message,
      JSON.stringify(change),
    );
  }
  // Positive control: the same configuration re-signed (new seq) reuses it.
  const same = plan(manifest('v1', { seq: 3 }), { imagePresent: true, containers: [running], routes: [] });
  assert.equal(same[0]?.kind, 'reuse');
});

test('drains target the containers being stopped, even when the route already points at the new one', () => {
  const v1 = container(manifest('v1'), 'web', true, 1000, '10.0.0.2');
  const m = manifest('v2');
  const v2 = container(m, 'web', true, 2000, '10.0.0.3');
  // After a crash past the switch: the table already sends traffic to v2.
  const steps = plan(m, { imagePresent: true, containers: [v1, v2], routes: [oldRoute('10.0.0.3:8080')] });
  assert.deepEqual(kinds(steps), ['STARTED:reuse', 'HEALTHY:http-check', 'SWITCHED:route', 'DRAINED:drain', 'DRAINED:stop']);
  assert.deepEqual(steps[3], { phase: 'DRAINED', kind: 'drain', role: 'web', target: '10.0.0.2:8080', timeoutSeconds: 30 });
  assert.equal(steps[4]?.kind === 'stop' ? steps[4].containerId : undefined, v1.id);
});

test('rollback to a retained, unchanged container starts it; a changed one is replaced', () => {
  const v1m = manifest('v1');
  const v1 = container(v1m, 'web', false, 1000);
  const v2 = container(manifest('v2'), 'web', true, 2000, '10.0.0.3');
  const rollback = manifest('v1', { seq: 3 });
  const steps = plan(rollback, { imagePresent: true, containers: [v1, v2], routes: [oldRoute('10.0.0.3:8080')] });
  assert.deepEqual(steps[0], { phase: 'STARTED', kind: 'start', role: 'web', name: 'demo-web-v1-gggggg', containerId: v1.id });
  assert.ok(steps.some((s) => s.kind === 'stop' && s.containerId === v2.id), 'v2 is stopped after the switch');
  assert.ok(!steps.some((s) => (s.kind === 'stop' || s.kind === 'prune') && 'containerId' in s && s.containerId === v1.id));

  const changed = manifest('v1', { seq: 4, roles: { web: { env: { clear: { A: 'b' } }, proxy: { hosts: ['demo.test'], app_port: 8080 } } } });
  const replaced = plan(changed, { imagePresent: true, containers: [v1, v2], routes: [] });
  assert.deepEqual(replaced[0], { phase: 'STARTED', kind: 'replace', role: 'web', name: 'demo-web-v1-gggggg', containerId: v1.id });
  const prune = replaced.find((s) => s.kind === 'prune');
  assert.equal(prune, undefined, 'the replaced container is not pruned twice');
});

test('a name held by a container Berth did not create is a conflict; a free name is a positive control', () => {
  const m = manifest('v1');
  const foreign: ObservedContainer = { id: 'abcdef1234567890', name: 'demo-web-v1-gggggg', running: true, labels: {}, createdAt: 1, ip: null };
  assert.throws(
    () => plan(m, { imagePresent: true, containers: [foreign], routes: [] }),
    (err: unknown) => err instanceof ConflictError && /container name demo-web-v1-gggggg is taken by a container Berth did not create \(abcdef123456\)/.test(err.message),
  );
  const otherService = { ...container(manifest('v1'), 'web', true, 1), labels: { 'berth.kind': 'app', 'berth.service': 'other' } };
  assert.throws(() => plan(m, { imagePresent: true, containers: [otherService], routes: [] }), ConflictError);
  assert.equal(plan(m, { imagePresent: true, containers: [], routes: [] })[0]?.kind, 'create');
});

test('retention: of the stopped containers only the newest retain_containers stay', () => {
  const olds = [1, 2, 3, 4].map((n) => container(manifest(`r${n}`), 'web', false, n * 1000));
  const serving = container(manifest('r5'), 'web', true, 5000, '10.0.0.5');
  const steps = plan(manifest('r6'), { imagePresent: true, containers: [...olds, serving], routes: [oldRoute('10.0.0.5:8080')] });
  const prune = steps.find((s) => s.kind === 'prune');
  // r5 (stopped by this deploy) and r4 stay; r3, r2, r1 go.
  assert.deepEqual(prune?.kind === 'prune' ? prune.names : [], ['demo-web-r3-gggggg', 'demo-web-r2-gggggg', 'demo-web-r1-gggggg']);
  assert.equal(prune?.phase, 'DONE');

  const keepAll = plan(manifest('r6', { retain_containers: 10 }), { imagePresent: true, containers: [...olds, serving], routes: [] });
  assert.ok(!keepAll.some((s) => s.kind === 'prune'));
});

test('retention ranks by when a container last ran, so a rollback target outlives newer-created ones', () => {
  // r1 was created first but ran last (it was rolled back to, then replaced by r3).
  const r1 = { ...container(manifest('r1'), 'web', false, 1000), finishedAt: 9000 };
  const r2 = { ...container(manifest('r2'), 'web', false, 2000), finishedAt: 3000 };
  const r3 = container(manifest('r3'), 'web', true, 5000, '10.0.0.5');
  const steps = plan(manifest('r4', { retain_containers: 2 }), { imagePresent: true, containers: [r1, r2, r3], routes: [oldRoute('10.0.0.5:8080')] });
  const prune = steps.find((s) => s.kind === 'prune');
  assert.deepEqual(prune?.kind === 'prune' ? prune.names : [], ['demo-web-r2-gggggg']);
});

test('retention never prunes the release that served just before this deploy, even with retain_containers 0', () => {
  const old = container(manifest('r1'), 'web', false, 1000);
  const serving = container(manifest('r2'), 'web', true, 2000, '10.0.0.2');
  const steps = plan(manifest('r3', { retain_containers: 0 }), { imagePresent: true, containers: [old, serving], routes: [oldRoute('10.0.0.2:8080')] });
  const prune = steps.find((s) => s.kind === 'prune');
  assert.deepEqual(prune?.kind === 'prune' ? prune.names : [], ['demo-web-r1-gggggg']);
  // Also when it had already stopped (it crashed): it is still the current release.
  const crashed = { ...serving, running: false, ip: null, finishedAt: 3000 };
  const again = plan(manifest('r3', { retain_containers: 0 }), {
    imagePresent: true, containers: [old, crashed], routes: [oldRoute('10.0.0.2:8080')], currentRelease: 'r2',
  });
  const prune2 = again.find((s) => s.kind === 'prune');
  assert.deepEqual(prune2?.kind === 'prune' ? prune2.names : [], ['demo-web-r1-gggggg']);
});

test('same creation second: the higher seq counts as newer', () => {
  const a = container(manifest('a', { seq: 5 }), 'web', false, 1000);
  const b = container(manifest('b', { seq: 6 }), 'web', false, 1000);
  const steps = plan(manifest('c', { seq: 7, retain_containers: 1 }), { imagePresent: true, containers: [a, b], routes: [] });
  const prune = steps.find((s) => s.kind === 'prune');
  assert.deepEqual(prune?.kind === 'prune' ? prune.names : [], ['demo-web-a-gggggg']);
});

test('containers of other destinations and roles are left alone', () => {
  const staging = parseManifestPayload(minimalManifest({ version: 'v1', sub: 'demo@staging', destination: 'staging' }));
  const other = container(staging, 'web', true, 1000, '10.0.0.9');
  const steps = plan(manifest('v2'), { imagePresent: true, containers: [other], routes: [] });
  assert.ok(!steps.some((s) => s.kind === 'stop' || s.kind === 'prune'));
});

test('a role without proxy waits readiness_delay running and gets no route', () => {
  const m = parseManifestPayload(minimalManifest({ roles: { worker: { cmd: ['run'] } }, readiness_delay: 4 }));
  const steps = plan(m, { imagePresent: true, containers: [], routes: [] });
  assert.deepEqual(kinds(steps), ['STARTED:create', 'HEALTHY:running-check']);
  assert.deepEqual(steps[1], { phase: 'HEALTHY', kind: 'running-check', role: 'worker', delaySeconds: 4 });
});
