// A paused route holds its new requests: each looks its route up again when
// the route set changes and goes to whatever target is then current, or gets
// 504 once the pause's timeout has passed. Other routes are not affected.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient, type RouterClient } from '../../../agent/router/client.js';
import type { Route } from '../../../agent/router/types.js';
import {
  send,
  startInProcessRouter,
  startUpstream,
  tempDir,
  waitFor,
  type Answer,
  type InProcessRouter,
  type Upstream,
} from '../../support/router-fixtures.js';
import { openWs, startStreamUpstream, type StreamUpstream } from '../../support/stream-fixtures.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;
let v1: Upstream;
let v2: Upstream;
let ws2: StreamUpstream;
let version = 0;
const client = (): RouterClient => createRouterClient(router.socketPath);
const port = (): number => router.http.port;

async function routes(...list: Array<Partial<Route> & Pick<Route, 'target'>>): Promise<void> {
  version += 1;
  await client().putRoutes({ version, routes: list.map((r) => ({ service: 'demo', hosts: ['demo.test'], ...r })) });
}

before(async () => {
  dir = await tempDir();
  [v1, v2, ws2] = await Promise.all([startUpstream('v1'), startUpstream('v2'), startStreamUpstream('ws2')]);
  router = await startInProcessRouter(dir.path);
});
after(async () => {
  await router.stop();
  await Promise.all([v1.close(), v2.close(), ws2.close()]);
  await dir.remove();
});

test('a held request completes after resume with the answer of the target then current', async () => {
  await routes({ target: v1.target, pause: { timeout: 60 } });
  const hitsBefore = v1.hits.get('/') ?? 0;
  const held = send(port(), 'demo.test', '/');
  await waitFor('the request to be held', () => router.held() === 1);
  // A change that keeps the pause keeps the request waiting.
  await routes({ target: v2.target, pause: { timeout: 60 } });
  await waitFor('the request to be held again', () => router.held() === 1);
  await routes({ target: v2.target });
  const answer = await held;
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'v2');
  assert.equal(v1.hits.get('/') ?? 0, hitsBefore, 'the paused target saw nothing');
  assert.equal(router.held(), 0);
});

test('a request held past the pause timeout gets the 504 page', async () => {
  await routes({ target: v1.target, pause: { timeout: 0.3 } });
  const answer = await send(port(), 'demo.test', '/', { headers: { accept: 'text/html' } });
  assert.equal(answer.status, 504);
  assert.match(answer.body, /paused and did not resume within 0\.3 s/);
  assert.equal(router.held(), 0);
});

test('other routes, and the paused route health path, are served while a route is paused', async () => {
  await routes(
    { target: v1.target, pause: { timeout: 60 }, health_path: '/up' },
    { service: 'other', hosts: ['other.test'], target: v2.target },
  );
  const held = send(port(), 'demo.test', '/');
  await waitFor('the request to be held', () => router.held() === 1);
  assert.equal((await send(port(), 'other.test', '/')).body, 'v2');
  assert.equal((await send(port(), 'demo.test', '/up')).status, 200, 'health checks reach the app');
  assert.equal(router.held(), 1);
  await routes({ target: v1.target, health_path: '/up' }, { service: 'other', hosts: ['other.test'], target: v2.target });
  assert.equal((await held).body, 'v1');
});

test('a client that gives up while held is no longer held', async () => {
  await routes({ target: v1.target, pause: { timeout: 60 } });
  const socket = net.connect(port(), '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n'));
  socket.on('error', () => undefined);
  await waitFor('the request to be held', () => router.held() === 1);
  socket.destroy();
  await waitFor('the hold to end', () => router.held() === 0);
});

test('a WebSocket upgrade is held too, and reaches the new target after resume', async () => {
  await routes({ target: v1.target, pause: { timeout: 60 } });
  const opening = openWs(port(), 'demo.test');
  await waitFor('the upgrade to be held', () => router.held() === 1);
  await routes({ target: ws2.target });
  const ws = await opening;
  assert.equal(await ws.ask('hi'), 'ws2:hi');
  await ws.close();
});

test('held requests are bounded by the per-address connection cap; the held ones all complete', async () => {
  const capped = await tempDir();
  const r = await startInProcessRouter(capped.path, { connections: { maxConnections: 100, maxPerAddress: 4, headerTimeoutMs: 5_000 } });
  try {
    const c = createRouterClient(r.socketPath);
    await c.putRoutes({ version: 1, routes: [{ service: 'demo', hosts: ['demo.test'], target: v1.target, pause: { timeout: 60 } }] });
    const held: Array<Promise<Answer>> = [];
    for (let i = 0; i < 4; i++) held.push(send(r.http.port, 'demo.test', '/'));
    await waitFor('four requests held', () => r.held() === 4);
    await assert.rejects(send(r.http.port, 'demo.test', '/'), 'a fifth connection from the address is refused');
    assert.equal(r.held(), 4);
    await c.putRoutes({ version: 2, routes: [{ service: 'demo', hosts: ['demo.test'], target: v1.target }] });
    assert.deepEqual((await Promise.all(held)).map((a) => a.body), ['v1', 'v1', 'v1', 'v1']);
  } finally {
    await r.stop();
    await capped.remove();
  }
});
