// Maintenance in the real router with real upstreams: 503 with the message
// (escaped, HTML or text), the health path still reaches the app, other hosts
// are untouched, the snapshot keeps it across a restart, bad sets change nothing.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import {
  routeSet,
  send,
  startRouterBench,
  startRouterProcess,
  tempDir,
  type InProcessRouter,
  type RouterBench,
  type Upstream,
} from '../../support/router-fixtures.js';

let bench: RouterBench;
let router: InProcessRouter;
let app: Upstream;
let other: Upstream;
let version = 0;
const client = () => createRouterClient(router.socketPath);
const port = () => router.http.port;
const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

async function routes(list: Parameters<typeof routeSet>[1]): Promise<void> {
  version += 1;
  await client().putRoutes(routeSet(version, list));
}

before(async () => {
  bench = await startRouterBench('app', 'other');
  ({ router } = bench);
  [app, other] = bench.upstreams as [Upstream, Upstream];
});
after(() => bench.stop());

const hits = (u: Upstream, path: string) => u.hits.get(path) ?? 0;

test('in maintenance every request gets 503, Retry-After and no-store with the message; the app sees none', async () => {
  await routes([
    { hosts: ['demo.test', 'www.demo.test'], target: app.target, health_path: '/up', maintenance: { message: 'Back at 5' } },
    { service: 'other', hosts: ['other.test'], target: other.target, health_path: '/up' },
  ]);
  const before = hits(app, '/');
  for (const [host, path, method] of [['demo.test', '/', 'GET'], ['www.demo.test', '/orders/7?x=1', 'GET'], ['DEMO.test:80', '/', 'POST']] as const) {
    const answer = await send(port(), host, path, { method, ...(method === 'POST' ? { body: 'a=1' } : {}) });
    assert.equal(answer.status, 503, `${host} ${path}`);
    assert.equal(answer.headers['retry-after'], '60');
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.match(answer.headers['content-type'] ?? '', /^text\/plain/);
    assert.equal(answer.body, 'Back at 5\n');
  }
  const page = await send(port(), 'demo.test', '/', { headers: HTML });
  assert.equal(page.status, 503);
  assert.match(page.headers['content-type'] ?? '', /^text\/html/);
  assert.match(page.body, /<p>Back at 5<\/p>/);
  const head = await send(port(), 'demo.test', '/', { method: 'HEAD', headers: HTML });
  assert.equal(head.status, 503);
  assert.equal(head.body, '');
  assert.equal(hits(app, '/'), before, 'the app was never asked');

  assert.equal((await send(port(), 'other.test', '/')).body, 'other', 'another service is unaffected');
});

test('the health path (query ignored) is still proxied, and only that exact path', async () => {
  const before = hits(app, '/up');
  const up = await send(port(), 'demo.test', '/up');
  assert.equal(up.status, 200);
  assert.equal(up.body, 'app');
  assert.equal((await send(port(), 'demo.test', '/up?deep=1')).status, 200);
  assert.equal(hits(app, '/up'), before + 2);
  for (const path of ['/up/', '/upx', '/UP', '//up']) {
    assert.equal((await send(port(), 'demo.test', path)).status, 503, path);
  }
  // A dot segment is refused outright (docs/router.md "Request targets").
  assert.equal((await send(port(), 'demo.test', '/up/../admin')).status, 400);
});

test('the message is HTML-escaped on the page and sent verbatim as text', async () => {
  const message = `<script>alert("pwned")</script> & 'quotes' — café`;
  await routes([{ hosts: ['demo.test'], target: app.target, health_path: '/up', maintenance: { message } }]);
  const page = await send(port(), 'demo.test', '/', { headers: HTML });
  assert.ok(!page.body.includes('<script>'), page.body);
  assert.ok(page.body.includes('&#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62; &#38; &#39;quotes&#39; — café'));
  const text = await send(port(), 'demo.test', '/', { headers: { accept: 'text/plain' } });
  assert.equal(text.body, `${message}\n`);
});

test('without a message the default one is shown; ending maintenance serves the app again', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target, maintenance: {} }]);
  const answer = await send(port(), 'demo.test', '/up');
  assert.equal(answer.status, 503, 'no health path on the route: nothing is exempt');
  assert.equal(answer.body, 'This service is down for maintenance.\n');
  await routes([{ hosts: ['demo.test'], target: app.target, health_path: '/up' }]);
  const served = await send(port(), 'demo.test', '/');
  assert.equal(served.status, 200);
  assert.equal(served.body, 'app');
});

test('a request with an unread body is answered with connection: close, never proxied', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target, maintenance: { message: 'later' } }]);
  const agent = new http.Agent({ keepAlive: true });
  try {
    const answer = await send(port(), 'demo.test', '/upload', { method: 'POST', body: Buffer.alloc(64 * 1024, 1), agent });
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.connection, 'close');
    assert.equal(app.received(), 0, 'nothing reached the app');
    const next = await send(port(), 'demo.test', '/', { agent });
    assert.equal(next.status, 503, 'the next request on a fresh connection is answered too');
    assert.equal(next.headers.connection, 'keep-alive', 'a bodiless request keeps its connection');
  } finally {
    agent.destroy();
  }
});

test('invalid maintenance or health path in a route set: 400 naming the field, the live set unchanged', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target, health_path: '/up', maintenance: { message: 'kept' } }]);
  const live = await client().getRoutes();
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ maintenance: { message: 'x'.repeat(1001) } }, /routes\.0\.maintenance\.message: must be at most 1000 characters/],
    [{ maintenance: { message: 'a\r\nSet-Cookie: x=1' } }, /routes\.0\.maintenance\.message: must be printable/],
    [{ maintenance: { message: 'x', html: '<b>' } }, /routes\.0\.maintenance/],
    [{ health_path: 'up' }, /routes\.0\.health_path/],
    [{ health_path: '/a b' }, /routes\.0\.health_path/],
  ];
  for (const [over, message] of bad) {
    const set = routeSet(version + 1, [{ hosts: ['demo.test'], target: app.target, ...over }]);
    await assert.rejects(client().putRoutes(set), (e: Error & { status?: number }) => e.status === 400 && message.test(e.message), JSON.stringify(over).slice(0, 60));
  }
  assert.deepEqual(await client().getRoutes(), live);
  const still = await send(port(), 'demo.test', '/');
  assert.deepEqual([still.status, still.body], [503, 'kept\n']);
});

test('maintenance survives a router restart (the snapshot keeps it) and a crash', async () => {
  const dir = await tempDir();
  try {
    let proc = await startRouterProcess(dir.path);
    const set = routeSet(3, [{ target: app.target, health_path: '/up', maintenance: { message: 'Back at 5' } }]);
    await createRouterClient(proc.socketPath).putRoutes(set);
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
    proc = await startRouterProcess(dir.path, proc.port);
    assert.deepEqual(await createRouterClient(proc.socketPath).getRoutes(), set);
    const answer = await send(proc.port, 'demo.test', '/');
    assert.deepEqual([answer.status, answer.body], [503, 'Back at 5\n']);
    assert.equal((await send(proc.port, 'demo.test', '/up')).status, 200);
    proc.child.kill('SIGKILL');
    await proc.exited;
    proc = await startRouterProcess(dir.path, proc.port);
    const afterCrash = await send(proc.port, 'demo.test', '/');
    assert.deepEqual([afterCrash.status, afterCrash.body], [503, 'Back at 5\n'], 'after a crash too');
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
  } finally {
    await dir.remove();
  }
});
