// WebSockets and server-sent events through the router: relayed without
// buffering, counted in flight on their target for their whole life (so a
// drain waits for them), kept on the old target over a switch, and refused
// like ordinary requests when the request or the route says so.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient, type RouterClient } from '../../../agent/router/client.js';
import {
  freePort,
  routeSet,
  send,
  startInProcessRouter,
  startRouterProcess,
  tempDir,
  waitFor,
  type InProcessRouter,
} from '../../support/router-fixtures.js';
import { openSse, openWs, rawExchange, startStreamUpstream, upgradeHead, type StreamUpstream } from '../../support/stream-fixtures.js';
import type { Route } from '../../../agent/router/types.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;
let v1: StreamUpstream;
let v2: StreamUpstream;
let version = 0;
const client = (): RouterClient => createRouterClient(router.socketPath);
const port = (): number => router.http.port;

async function routeTo(upstream: StreamUpstream | string, extra: Partial<Route> = {}, c: RouterClient = client()): Promise<void> {
  version += 1;
  const target = typeof upstream === 'string' ? upstream : upstream.target;
  await c.putRoutes(routeSet(version, [{ target, ...extra }]));
}

const inflight = async (target: string): Promise<number> => (await client().targets())[target]?.inflight ?? 0;

before(async () => {
  dir = await tempDir();
  [v1, v2] = await Promise.all([startStreamUpstream('v1'), startStreamUpstream('v2')]);
  // A short idle timeout, so the test can see a quiet WebSocket outlive it.
  router = await startInProcessRouter(dir.path, { idleTimeoutMs: 500 });
});
after(async () => {
  await router.stop();
  await Promise.all([v1.close(), v2.close()]);
  await dir.remove();
});

test('a WebSocket echoes through the router with the forwarding headers, in flight on its target while open', async () => {
  await routeTo(v1);
  const ws = await openWs(port(), 'demo.test', '/chat?room=1');
  assert.equal(await ws.ask('hello'), 'v1:hello');
  const seen = v1.lastUpgrade()!;
  assert.equal(seen.host, 'demo.test');
  assert.equal(seen.upgrade, 'websocket');
  assert.match(seen.connection ?? '', /upgrade/i);
  assert.equal(seen['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(await inflight(v1.target), 1);
  await ws.close();
  await waitFor('the closed WebSocket to leave the count', async () => (await inflight(v1.target)) === 0);
});

test('a WebSocket under a stripped path prefix reaches the app without the prefix; unstripped keeps it', async () => {
  await routeTo(v1, { path_prefix: '/api', strip_path_prefix: true });
  const stripped = await openWs(port(), 'demo.test', '/api/cable?x=1');
  assert.equal(await stripped.ask('hi'), 'v1:hi');
  assert.equal(v1.lastUpgradeUrl(), '/cable?x=1');
  await stripped.close();
  await routeTo(v1, { path_prefix: '/api' });
  const kept = await openWs(port(), 'demo.test', '/api/cable');
  assert.equal(await kept.ask('hi'), 'v1:hi');
  assert.equal(v1.lastUpgradeUrl(), '/api/cable');
  await kept.close();
});

test('a quiet WebSocket outlives the idle timeout that closes a quiet keep-alive connection', async () => {
  await routeTo(v1);
  const ws = await openWs(port(), 'demo.test');
  const idle = net.connect(port(), '127.0.0.1');
  let idleClosed = false;
  idle.on('close', () => (idleClosed = true));
  idle.on('error', () => undefined);
  await waitFor('the idle connection to be closed by the idle timeout', () => idleClosed);
  assert.equal(ws.closed(), false);
  assert.equal(await ws.ask('still here'), 'v1:still here');
  await ws.close();
});

test('over a switch: an open WebSocket and SSE stream stay on the old target, new ones reach the new one', async () => {
  await routeTo(v1);
  const oldWs = await openWs(port(), 'demo.test');
  const oldSse = await openSse(port(), 'demo.test');
  await waitFor('the first v1 event', () => oldSse.events.length === 1);
  await routeTo(v2);

  const newWs = await openWs(port(), 'demo.test');
  assert.equal(await newWs.ask('a'), 'v2:a');
  assert.equal(await oldWs.ask('b'), 'v1:b', 'the open WebSocket still talks to v1');
  const newSse = await openSse(port(), 'demo.test');
  await waitFor('the first v2 event', () => newSse.events.length === 1);
  v1.nextEvent();
  v2.nextEvent();
  await waitFor('the second events', () => oldSse.events.length === 2 && newSse.events.length === 2);
  assert.deepEqual(oldSse.events, ['v1 1', 'v1 2']);
  assert.deepEqual(newSse.events, ['v2 1', 'v2 2']);
  // What the agent's drain reads: v1 keeps both streams until they end.
  assert.equal(await inflight(v1.target), 2);

  await oldWs.close();
  oldSse.close();
  await waitFor('v1 to drain', async () => (await inflight(v1.target)) === 0);
  await newWs.close();
  newSse.close();
});

test('SSE events arrive one by one: each is relayed before the app sends the next', async () => {
  await routeTo(v1);
  const sse = await openSse(port(), 'demo.test');
  for (let n = 2; n <= 5; n++) {
    await waitFor(`event ${n - 1}`, () => sse.events.length === n - 1);
    v1.nextEvent();
  }
  await waitFor('event 5', () => sse.events.length === 5);
  assert.deepEqual(sse.events, ['v1 1', 'v1 2', 'v1 3', 'v1 4', 'v1 5']);
  sse.close();
});

test('the old target stopping ends its WebSocket and SSE stream', async () => {
  const old = await startStreamUpstream('old');
  await routeTo(old);
  const ws = await openWs(port(), 'demo.test');
  const sse = await openSse(port(), 'demo.test');
  await waitFor('the first event', () => sse.events.length === 1);
  await routeTo(v2);
  await old.close();
  await waitFor('both streams to end', () => ws.closed() && sse.ended());
  await waitFor('the old target to leave /targets', async () => !(old.target in (await client().targets())));
});

test('a target that answers the upgrade with 403 is relayed as a normal answer and the connection closed', async () => {
  await routeTo(v1);
  const out = await rawExchange(port(), upgradeHead('/refuse', 'demo.test'));
  assert.match(out, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.match(out, /\r\nX-Reason: test\r\n/);
  assert.match(out, /\r\nConnection: close\r\n/);
  assert.match(out, /\r\n\r\nnope\n$/);
  await waitFor('nothing in flight', async () => (await inflight(v1.target)) === 0);
});

test('upgrade to a dead target: 502; an unrouted host: 503; maintenance: 503 with the message', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  await routeTo(dead);
  assert.match(await rawExchange(port(), upgradeHead('/', 'demo.test')), /^HTTP\/1\.1 502 Bad Gateway\r\n[\s\S]*The service is not reachable/);
  assert.equal(await inflight(dead), 0);
  assert.match(await rawExchange(port(), upgradeHead('/', 'other.test')), /^HTTP\/1\.1 503 [\s\S]*There is no service for host other.test/);

  await routeTo(v1, { maintenance: { message: 'Back soon' }, health_path: '/up' });
  const out = await rawExchange(port(), upgradeHead('/', 'demo.test'));
  assert.match(out, /^HTTP\/1\.1 503 [\s\S]*Retry-After: 60\r\n[\s\S]*\r\n\r\nBack soon\n$/);
});

test('hostile upgrades are refused before any target sees them', async () => {
  await routeTo(v1);
  const before = v1.lastUpgrade();
  assert.match(await rawExchange(port(), upgradeHead('/a/../admin', 'demo.test')), /^HTTP\/1\.1 400 [\s\S]*must not contain [\s\S]* segments/);
  assert.match(await rawExchange(port(), upgradeHead('/', undefined)), /^HTTP\/1\.1 400 [\s\S]*Host header is required/);
  const huge = await rawExchange(port(), upgradeHead('/', 'demo.test', `X-Big: ${'a'.repeat(64 * 1024)}\r\n`));
  assert.match(huge, /^HTTP\/1\.1 (400|431) /);
  assert.match(await rawExchange(port(), upgradeHead('/.berth/webhooks/abc', 'demo.test')), /^HTTP\/1\.1 405 /);
  assert.match(
    await rawExchange(port(), upgradeHead('/', 'demo.test', 'Content-Length: 5\r\n') + 'hello'),
    /^HTTP\/1\.1 400 [\s\S]*must not carry a body/,
  );
  assert.equal(v1.lastUpgrade(), before, 'the target saw none of them');
});

test('an h2c upgrade is served as a plain HTTP/1.1 request, its Upgrade dropped', async () => {
  await routeTo(v1);
  const out = await rawExchange(
    port(),
    'GET /headers HTTP/1.1\r\nHost: demo.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
  );
  assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
  const seen = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as Record<string, string>;
  assert.equal(seen['upgrade'], undefined);
  assert.equal(seen['http2-settings'], undefined, 'named in Connection, so dropped');
  assert.equal(seen['host'], 'demo.test');
});

test('upgraded connections count against the per-address connection cap', async () => {
  const capped = await tempDir();
  const r = await startInProcessRouter(capped.path, { connections: { maxConnections: 100, maxPerAddress: 2, headerTimeoutMs: 5_000 } });
  try {
    await createRouterClient(r.socketPath).putRoutes(routeSet(1, [{ target: v1.target }]));
    const a = await openWs(r.http.port, 'demo.test');
    const b = await openWs(r.http.port, 'demo.test');
    await assert.rejects(send(r.http.port, 'demo.test', '/'), 'a third connection from the address is refused');
    await a.close();
    await waitFor('a slot to free', async () => (await send(r.http.port, 'demo.test', '/').catch(() => undefined))?.body === 'v1');
    await b.close();
  } finally {
    await r.stop();
    await capped.remove();
  }
});

test('the router process relays a WebSocket and closes it at once on SIGTERM', async () => {
  const procDir = await tempDir();
  const proc = await startRouterProcess(procDir.path);
  try {
    await createRouterClient(proc.socketPath).putRoutes(routeSet(1, [{ target: v1.target }]));
    const ws = await openWs(proc.port, 'demo.test');
    assert.equal(await ws.ask('ping'), 'v1:ping');
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
    await waitFor('the WebSocket to be closed', () => ws.closed());
    assert.match(proc.stderr(), /closing 1 upgraded connection/);
  } finally {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await procDir.remove();
  }
});

test('WebSockets of a route with two targets alternate between them, and an unreachable target leaves rotation', async () => {
  const dead = await startStreamUpstream('dead');
  await dead.close();
  version += 1;
  await client().putRoutes(routeSet(version, [{ target: [v1.target, v2.target] }]));
  const first = await openWs(port(), 'demo.test', '/');
  const second = await openWs(port(), 'demo.test', '/');
  assert.deepEqual([await first.ask('a'), await second.ask('b')], ['v1:a', 'v2:b']);
  assert.equal(await inflight(v1.target), 1);
  assert.equal(await inflight(v2.target), 1);
  await Promise.all([first.close(), second.close()]);

  version += 1;
  await client().putRoutes(routeSet(version, [{ target: [dead.target, v1.target] }]));
  await assert.rejects(openWs(port(), 'demo.test', '/'), /upgrade refused: 502/);
  const after = await Promise.all([openWs(port(), 'demo.test', '/'), openWs(port(), 'demo.test', '/')]);
  assert.deepEqual(await Promise.all(after.map((w, i) => w.ask(String(i)))), ['v1:0', 'v1:1']);
  await Promise.all(after.map((w) => w.close()));
});
