// What a client can make the router forward: the router decides on exactly the
// request target it forwards (no fragment, dot segment or backslash for the
// app to reinterpret past maintenance or a path prefix), and the client-address
// headers the app sees come from the socket unless the service trusts a proxy
// in front (forward_headers: true). Upgrade requests get the same checks, and
// only WebSocket is switched. Real router process, real upstreams.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../agent/router/client.js';
import {
  routeSet,
  send,
  startRouterProcess,
  startUpstream,
  tempDir,
  type RouterProcess,
  type Upstream,
} from '../support/router-fixtures.js';
import { rawExchange } from '../support/stream-fixtures.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: RouterProcess;
let app: Upstream;
let version = 0;

async function routes(list: Parameters<typeof routeSet>[1]): Promise<void> {
  version += 1;
  await createRouterClient(router.socketPath).putRoutes(routeSet(version, list));
}

before(async () => {
  dir = await tempDir();
  app = await startUpstream('app');
  router = await startRouterProcess(dir.path);
});

after(async () => {
  router.child.kill('SIGTERM');
  await router.exited;
  await app.close();
  await dir.remove();
});

const totalHits = (): number => [...app.hits.values()].reduce((a, b) => a + b, 0);

/** One request written byte for byte (any request target), answered status, or 0 when the router only closed. */
function rawStatus(target: string, host = 'demo.test'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(router.port, '127.0.0.1', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let reply = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (reply += d));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0)));
    socket.on('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no answer to ${target}`)));
  });
}

test('a fragment cannot carry a request past maintenance: request targets with # get 400 and the app sees nothing', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target, health_path: '/up', maintenance: { message: 'Back soon' } }]);
  assert.equal((await send(router.port, 'demo.test', '/up')).status, 200, 'positive control: the health path reaches the app');
  assert.equal((await send(router.port, 'demo.test', '/')).status, 503, 'positive control: maintenance holds');
  const seen = totalHits();
  for (const target of ['/up#/../index.html', '/up?x#/../index.html', '/#', '/up%23/../index.html#']) {
    assert.equal(await rawStatus(target), 400, target);
  }
  assert.equal(totalHits(), seen, 'the app received none of them');
});

test('odd request targets are refused or forwarded as decided: dot segments, backslashes, asterisk, foreign absolute-form', async () => {
  await routes([
    { hosts: ['demo.test'], target: app.target, health_path: '/up', maintenance: {} },
  ]);
  const seen = totalHits();
  for (const target of ['/up/../index.html', '/up/%2e%2e/index.html', '/up/%2E%2e', '/up/./', '/up\\..\\index.html', '*', 'http://other.test/up']) {
    assert.equal(await rawStatus(target), 400, target);
  }
  assert.equal(totalHits(), seen, 'the app received none of them');
  // Absolute-form naming the routed host is the same request as origin-form: routed by that path.
  assert.equal(await rawStatus('http://demo.test/up'), 200, 'absolute-form for the same host reaches the health path');
  assert.equal(await rawStatus('http://demo.test/index.html'), 503, 'and anything else stays in maintenance');
});

test('X-Forwarded-For, Forwarded and other X-Forwarded-* from a client are replaced by what the router saw', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target }]);
  const spoofed = {
    'x-forwarded-for': '203.0.113.7',
    forwarded: 'for=203.0.113.7;proto=https',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'admin.internal',
    'x-forwarded-port': '443',
    'x-real-ip': '203.0.113.7',
  };
  const answer = await send(router.port, 'demo.test', '/headers', { headers: spoofed });
  assert.equal(answer.status, 200);
  const seen = JSON.parse(answer.body) as Record<string, string>;
  assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'the socket address only');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'demo.test');
  for (const name of ['forwarded', 'x-forwarded-port', 'x-real-ip']) assert.equal(seen[name], undefined, name);
});

test('with forward_headers: true the client X-Forwarded-For is kept and the socket address appended', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target, forward_headers: true }]);
  const answer = await send(router.port, 'demo.test', '/headers', {
    headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', forwarded: 'for=203.0.113.7;proto=https' },
  });
  assert.equal(answer.status, 200);
  const seen = JSON.parse(answer.body) as Record<string, string>;
  assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'https', 'the proxy in front says how the client came');
  assert.equal(seen['forwarded'], 'for=203.0.113.7;proto=https');
});

test('an upgrade request gets the same checks: hostile targets 400, maintenance 503, and only WebSocket is switched', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target, health_path: '/up', maintenance: {} }]);
  const seen = totalHits();
  const upgrade = (target: string, protocol = 'websocket', extra = '') =>
    rawExchange(router.port, `GET ${target} HTTP/1.1\r\nHost: demo.test\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
  for (const target of ['/up#/../index.html', '/up/../index.html', '/up/%2e%2e/index.html', '/up\\..\\index.html', 'http://other.test/up']) {
    assert.match(await upgrade(target), /^HTTP\/1\.1 400 /, target);
  }
  assert.match(await upgrade('/index.html'), /^HTTP\/1\.1 503 /, 'maintenance holds for upgrades');
  assert.match(await upgrade('/up', 'websocket', 'Content-Length: 4\r\n'), /^HTTP\/1\.1 400 /, 'no body smuggled after an upgrade head');
  assert.equal(totalHits(), seen, 'the app received none of them');

  // h2c would let a client speak HTTP/2 to the app past every check: served as HTTP/1.1, Upgrade dropped.
  await routes([{ hosts: ['demo.test'], target: app.target }]);
  const h2c = await upgrade('/headers', 'h2c', 'X-Forwarded-For: 203.0.113.7\r\n');
  assert.match(h2c, /^HTTP\/1\.1 200 /);
  const headers = JSON.parse(h2c.slice(h2c.indexOf('{'), h2c.lastIndexOf('}') + 1)) as Record<string, string>;
  assert.equal(headers['upgrade'], undefined);
  assert.equal(headers['x-forwarded-for'], '127.0.0.1', 'forwarding headers replaced as on any request');
});
