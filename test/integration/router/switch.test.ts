// Route switches under continuous load: no request may fail. A failure is a
// socket error, a non-2xx status, or a body that is not one of the versions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRouterClient, type RouterClient } from '../../../agent/router/client.js';
import { startLoad, type RunningLoad } from '../../support/load.js';
import {
  routeSet,
  send,
  startRouterBench,
  startRouterProcess,
  startUpstream,
  tempDir,
  waitFor,
  type InProcessRouter,
  type RouterBench,
  type Upstream,
} from '../../support/router-fixtures.js';

let router: InProcessRouter;
let v1: Upstream;
let v2: Upstream;
let version = 0;
const client = (): RouterClient => createRouterClient(router.socketPath);

async function switchTo(c: RouterClient, upstream: Upstream): Promise<void> {
  version += 1;
  await c.putRoutes(routeSet(version, [{ target: upstream.target }]));
}

/** Lets at least `n` more requests through the load. */
async function progress(load: RunningLoad, n: number): Promise<void> {
  const start = load.report.total;
  await waitFor(`${n} requests`, () => load.report.total >= start + n, 20_000);
}

function load(port: number, accept: string[]): RunningLoad {
  return startLoad({ ip: '127.0.0.1', port, host: 'demo.test', accept, loops: 6, maxRequests: 50_000, maxMs: 60_000 });
}

let bench: RouterBench;
before(async () => {
  bench = await startRouterBench('v1', 'v2');
  ({ router } = bench);
  [v1, v2] = bench.upstreams as [Upstream, Upstream];
});
after(() => bench.stop());

test('switching v1 <-> v2 under load fails no request, with keep-alive and fresh connections', async () => {
  await switchTo(client(), v1);
  const running = load(router.http.port, ['v1', 'v2']);
  try {
    await progress(running, 200);
    for (let i = 0; i < 10; i++) {
      await switchTo(client(), i % 2 === 0 ? v2 : v1);
      await progress(running, 200);
    }
  } finally {
    const report = await running.stop();
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.total} failed`);
    assert.ok((report.seen['v1'] ?? 0) > 0 && (report.seen['v2'] ?? 0) > 0, JSON.stringify(report.seen));
  }
});

test('rolling releases under load: switch, drain, stop the old target; no request fails', async () => {
  const releases: Upstream[] = [await startUpstream('r1')];
  await switchTo(client(), releases[0]!);
  const running = load(router.http.port, ['r1', 'r2', 'r3', 'r4']);
  try {
    await progress(running, 200);
    for (const name of ['r2', 'r3', 'r4']) {
      const old = releases[releases.length - 1]!;
      const next = await startUpstream(name);
      releases.push(next);
      await switchTo(client(), next);
      // The agent's drain: wait until the old target has nothing in flight, then stop it.
      await waitFor(`${old.name} drained`, async () => ((await client().targets())[old.target]?.inflight ?? 0) === 0);
      await old.close();
      await progress(running, 200);
    }
  } finally {
    const report = await running.stop();
    await Promise.all(releases.map((r) => r.close()));
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.total} failed`);
    assert.ok((report.seen['r4'] ?? 0) > 0, JSON.stringify(report.seen));
  }
});

test('a slow request in flight at the switch completes with the old answer; /targets counts it until then', async () => {
  await switchTo(client(), v1);
  let firstChunk = false;
  const slow = send(router.http.port, 'demo.test', '/gated', { onFirstChunk: () => (firstChunk = true) });
  await waitFor('the slow request to start', () => firstChunk);
  assert.deepEqual(await client().targets(), { [v1.target]: { inflight: 1 } });

  await switchTo(client(), v2);
  assert.equal((await send(router.http.port, 'demo.test', '/')).body, 'v2', 'new requests go to v2');
  assert.deepEqual(await client().targets(), { [v1.target]: { inflight: 1 }, [v2.target]: { inflight: 0 } });

  v1.openGate();
  const answer = await slow;
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'v1-first\nv1-last\n');
  await waitFor('v1 to drain', async () => ((await client().targets())[v1.target]?.inflight ?? 0) === 0);
  assert.deepEqual(await client().targets(), { [v2.target]: { inflight: 0 } }, 'an unrouted idle target is no longer listed');
});

test('a router child process switches under load without failures', async () => {
  const childDir = await tempDir();
  const proc = await startRouterProcess(childDir.path);
  const c = createRouterClient(proc.socketPath);
  try {
    await switchTo(c, v1);
    const running = load(proc.port, ['v1', 'v2']);
    try {
      await progress(running, 200);
      for (let i = 0; i < 6; i++) {
        await switchTo(c, i % 2 === 0 ? v2 : v1);
        await progress(running, 200);
      }
    } finally {
      const report = await running.stop();
      assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.total} failed`);
      assert.ok((report.seen['v1'] ?? 0) > 0 && (report.seen['v2'] ?? 0) > 0, JSON.stringify(report.seen));
    }
  } finally {
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
    await childDir.remove();
  }
});
