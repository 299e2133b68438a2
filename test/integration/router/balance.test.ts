// A route over several targets, through the real router: round robin, a dead
// target taken out (its GETs go to another target, so none fails), and back in
// rotation once it answers its health check again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { routeSet, send, startRouterBench, startUpstream, waitFor, type RouterBench, type Upstream } from '../../support/router-fixtures.js';

let bench: RouterBench;
let version = 0;
before(async () => {
  bench = await startRouterBench('r1', 'r2', 'r3');
});
after(() => bench.stop());

async function route(targets: string[], over: Record<string, unknown> = {}): Promise<void> {
  version += 1;
  await createRouterClient(bench.router.socketPath).putRoutes(routeSet(version, [{ target: targets, health_path: '/up', ...over }]));
}

async function bodies(n: number, method = 'GET'): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await send(bench.router.http.port, 'demo.test', '/', { method });
    out.push(`${a.status} ${a.body}`);
  }
  return out;
}

test('requests are spread round robin over every target of the route', async () => {
  await route(bench.upstreams.map((u) => u.target));
  const seen = await bodies(9);
  for (const name of ['r1', 'r2', 'r3']) assert.equal(seen.filter((b) => b === `200 ${name}`).length, 3, seen.join(', '));
});

test('a target that goes away: no GET fails, it leaves rotation, and it comes back once its health check passes', async () => {
  const [r1, r2, r3] = bench.upstreams as [Upstream, Upstream, Upstream];
  await route([r1.target, r2.target, r3.target]);
  await r2.close();
  const during = await bodies(12);
  assert.deepEqual(during.filter((b) => !b.startsWith('200 ')), [], 'every GET answered by a live target');
  assert.ok(!during.includes('200 r2'));
  assert.ok(bench.router.logs.some((l) => l.includes(`target ${r2.target} of demo is out of rotation`)), bench.router.logs.join('\n'));
  // Out of rotation: both live targets share the load evenly again.
  const out = await bodies(6);
  assert.deepEqual([out.filter((b) => b === '200 r1').length, out.filter((b) => b === '200 r3').length], [3, 3], out.join(', '));

  const again = await startUpstream('r2-again', r2.port);
  bench.upstreams[1] = again;
  await waitFor('r2 back in rotation', () => bench.router.logs.some((l) => l.includes(`target ${r2.target} is back in rotation`)), 15_000);
  assert.ok(again.hits.get('/up')! >= 1, 'the health check reached the restarted target');
  const back = await bodies(6);
  assert.equal(back.filter((b) => b === '200 r2-again').length, 2, back.join(', '));
});

test('a request with a body to a dead target gets 502 (it is not resent), and the target leaves rotation', async () => {
  const dead = await startUpstream('dead');
  const live = bench.upstreams[0]!;
  await dead.close();
  await route([dead.target, live.target]);
  const first = await send(bench.router.http.port, 'demo.test', '/upload', { method: 'POST', body: 'x'.repeat(100) });
  assert.equal(first.status, 502);
  assert.match(first.body, /The service is not reachable/);
  const next = await bodies(4, 'POST');
  assert.deepEqual(next, Array(4).fill(`200 ${live.name}`));
});

test('with every target dead the answer is 502, and the router keeps serving once one returns', async () => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  await Promise.all([a.close(), b.close()]);
  await route([a.target, b.target]);
  const answers = await bodies(3);
  assert.ok(answers.every((b) => b.startsWith('502 ') && b.includes('The service is not reachable')), answers.join(', '));
  const back = await startUpstream('b-again', b.port);
  try {
    await waitFor('b answers through the router', async () => (await send(bench.router.http.port, 'demo.test', '/')).body === 'b-again', 15_000, { intervalMs: 100 });
  } finally {
    await back.close();
  }
});
