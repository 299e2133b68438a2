// The balancer's choices with a stand-in health check: round robin, a failed
// target out of rotation until its check passes, and all targets out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Balancer, DEFAULT_PROBE_PATH } from '../../../agent/router/balancer.js';
import type { Route } from '../../../agent/router/types.js';
import { waitFor } from '../../support/wait.js';

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';
const C = '10.0.0.3:80';
const route = (target: Route['target'], health_path?: string): Route => ({ service: 'demo', hosts: ['demo.test'], target, ...(health_path ? { health_path } : {}) });

function balancer(healthy: (target: string) => boolean = () => false) {
  const probes: Array<{ target: string; path: string }> = [];
  const ups: string[] = [];
  const logs: string[] = [];
  const b = new Balancer({
    probe: async (target, path) => (probes.push({ target, path }), healthy(target)),
    log: (m) => logs.push(m),
    onUp: (t) => ups.push(t),
    intervalMs: 5,
  });
  return { b, probes, ups, logs };
}

const picks = (b: Balancer, r: Route, n: number): string[] => Array.from({ length: n }, () => b.pick(r));

test('requests go round robin over every target, and a single target always gets them', () => {
  const { b } = balancer();
  assert.deepEqual(picks(b, route([A, B, C]), 6), [A, B, C, A, B, C]);
  assert.deepEqual(picks(b, route(A), 3), [A, A, A]);
  assert.deepEqual(picks(b, route([A]), 2), [A, A]);
});

test('a failed target leaves rotation and is health-checked at the route health path until it passes', async () => {
  let bHealthy = false;
  const { b, probes, ups, logs } = balancer((t) => t === B && bHealthy);
  const r = route([A, B, C], '/health');
  b.failed(r, B);
  assert.equal(b.inRotation(B), false);
  assert.match(logs[0] ?? '', /target 10\.0\.0\.2:80 of demo is out of rotation until its health check at \/health passes/);
  assert.deepEqual(new Set(picks(b, r, 6)), new Set([A, C]));
  await waitFor('two failed health checks', () => probes.length >= 2, 5_000);
  assert.ok(probes.every((p) => p.target === B && p.path === '/health'));
  assert.equal(b.inRotation(B), false);
  bHealthy = true;
  await waitFor('B back in rotation', () => b.inRotation(B), 5_000);
  assert.deepEqual(ups, [B]);
  assert.ok(picks(b, r, 3).includes(B));
  assert.equal(b.pickInRotation(r, A) !== A, true);
});

test('with every target out, requests still go round robin to all; pickInRotation finds none', () => {
  const { b } = balancer();
  const r = route([A, B]);
  b.failed(r, A);
  b.failed(r, B);
  assert.deepEqual(new Set(picks(b, r, 4)), new Set([A, B]));
  assert.equal(b.pickInRotation(r, A), undefined);
  b.stop();
});

test('a single-target route never takes its target out; unknown targets are ignored; the default check path is /up', async () => {
  const { b, probes } = balancer();
  b.failed(route(A), A);
  b.failed(route([A, B]), C);
  assert.equal(b.inRotation(A), true);
  assert.equal(b.inRotation(C), true);
  b.failed(route([A, B]), A);
  await waitFor('a health check', () => probes.length >= 1, 5_000);
  assert.equal(probes[0]?.path, DEFAULT_PROBE_PATH);
  b.stop();
});

test('a target no longer balanced over is back in rotation; failing again starts a new check loop', async () => {
  const { b, probes } = balancer();
  const r = route([A, B]);
  b.failed(r, A);
  b.setRouted({ version: 2, routes: [route(A)] });
  assert.equal(b.inRotation(A), true);
  const seen = probes.length;
  b.failed(route([A, C]), A);
  await waitFor('the new loop probes', () => probes.length > seen, 5_000);
  b.setRouted({ version: 3, routes: [route([A, C])] });
  assert.equal(b.inRotation(A), false, 'still balanced over: stays out');
  b.stop();
});
