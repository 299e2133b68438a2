// The proxy against real node:http upstreams on 127.0.0.1, router in-process.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import {
  routeSet,
  send,
  startRouterBench,
  startUpstream,
  waitFor,
  type InProcessRouter,
  type RouterBench,
  type Upstream,
} from '../../support/router-fixtures.js';

let router: InProcessRouter;
let v1: Upstream;
let v2: Upstream;
let version = 0;
const client = () => createRouterClient(router.socketPath);
const port = () => router.http.port;

async function routes(list: Parameters<typeof routeSet>[1]): Promise<void> {
  version += 1;
  await client().putRoutes(routeSet(version, list));
}

let bench: RouterBench;
before(async () => {
  bench = await startRouterBench('v1', 'v2');
  ({ router } = bench);
  [v1, v2] = bench.upstreams as [Upstream, Upstream];
});
after(() => bench.stop());

test('requests are routed by Host (port and case ignored) and path prefix', async () => {
  await routes([
    { hosts: ['one.test'], target: v1.target },
    { service: 'two', hosts: ['two.test'], target: v2.target },
    { service: 'two-api', hosts: ['one.test'], path_prefix: '/api', target: v2.target },
  ]);
  assert.equal((await send(port(), 'one.test', '/')).body, 'v1');
  assert.equal((await send(port(), 'ONE.test:8080', '/x')).body, 'v1');
  assert.equal((await send(port(), 'two.test', '/')).body, 'v2');
  assert.equal((await send(port(), 'one.test', '/api/users')).body, 'v2');
  assert.equal((await send(port(), 'one.test', '/apiary')).body, 'v1');
});

test('an unknown host gets the 503 page naming the host, escaped', async () => {
  await routes([{ hosts: ['one.test'], target: v1.target }]);
  const answer = await send(port(), 'nobody.test', '/');
  assert.equal(answer.status, 503);
  assert.match(answer.headers['content-type'] ?? '', /text\/html/);
  assert.match(answer.body, /no service for host nobody\.test/);
  const noHost = await send(port(), '', '/');
  assert.equal(noHost.status, 503);
  assert.equal((await send(port(), 'one.test', '/')).status, 200, 'positive control');
});

test('a dead target gets the 502 page; the router keeps serving', async () => {
  const dead = await startUpstream('dead');
  await dead.close();
  await routes([
    { hosts: ['dead.test'], target: dead.target },
    { service: 'ok', hosts: ['one.test'], target: v1.target },
  ]);
  const answer = await send(port(), 'dead.test', '/');
  assert.equal(answer.status, 502);
  assert.match(answer.body, /502 Bad Gateway/);
  assert.equal((await send(port(), 'one.test', '/')).body, 'v1');
});

test('no answer within response_timeout gets the 504 page', async () => {
  await routes([
    { hosts: ['slow.test'], target: v1.target, response_timeout: 0.3 },
    { service: 'ok', hosts: ['one.test'], target: v1.target },
  ]);
  const answer = await send(port(), 'slow.test', '/hang');
  assert.equal(answer.status, 504);
  assert.match(answer.body, /504 Gateway Timeout/);
  await waitFor('the upstream request to be cut', () => v1.hangsClosed() >= 1);
  const withBody = await send(port(), 'slow.test', '/hang', { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(withBody.status, 504);
  assert.equal((await send(port(), 'slow.test', '/')).status, 200, 'positive control on the same route');
});

test('an upload that takes longer than response_timeout is not a timeout', async () => {
  await routes([{ hosts: ['slow.test'], target: v1.target, response_timeout: 0.3 }]);
  const answer = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: port(), method: 'POST', path: '/upload', headers: { host: 'slow.test' }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      },
    );
    req.on('error', reject);
    req.write('a'.repeat(10));
    // The client is slow: the rest of the body comes well after the response timeout.
    setTimeout(() => req.end('b'.repeat(10)), 800);
  });
  assert.match(answer, /^200 .*"bytes":20/);
});

test('a streaming response reaches the client chunk by chunk', async () => {
  await routes([{ hosts: ['one.test'], target: v1.target }]);
  let first: string | undefined;
  // The upstream sends the rest only after the client has seen the first chunk:
  // a buffering proxy would never deliver it and the request would time out.
  const answer = send(port(), 'one.test', '/gated', {
    onFirstChunk: (chunk) => {
      first = chunk;
      v1.openGate();
    },
  });
  const { status, body } = await answer;
  assert.equal(status, 200);
  assert.equal(first, 'v1-first\n');
  assert.equal(body, 'v1-first\nv1-last\n');
});

test('a large upload is streamed to the target intact', async () => {
  await routes([{ hosts: ['one.test'], target: v1.target }]);
  const part = randomBytes(1024 * 1024);
  const parts = 48;
  const hash = createHash('sha256');
  const before = v1.received();
  const answer = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: port(), method: 'POST', path: '/upload', headers: { host: 'one.test' }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    (async () => {
      req.write(part);
      hash.update(part);
      // The target sees bytes before the client has finished sending: no buffering of the whole body.
      await waitFor('the first upload bytes at the target', () => v1.received() > before);
      for (let i = 1; i < parts; i++) {
        if (!req.write(part)) await new Promise((r) => req.once('drain', r));
        hash.update(part);
      }
      req.end();
    })().catch(reject);
  });
  const result = JSON.parse(answer) as { name: string; bytes: number; sha256: string };
  assert.deepEqual(result, { name: 'v1', bytes: parts * part.length, sha256: hash.digest('hex') });
});

test('X-Forwarded-* and request ids reach the target; hop-by-hop headers do not', async () => {
  await routes([{ hosts: ['one.test'], target: v1.target }]);
  const answer = await send(port(), 'one.test:8080', '/headers', {
    headers: { 'x-forwarded-for': '198.51.100.9', 'x-request-id': 'req-42', 'x-forwarded-proto': 'https', 'keep-alive': 'timeout=1', 'x-private': 'p', connection: 'x-private' },
  });
  const seen = JSON.parse(answer.body) as Record<string, string>;
  assert.equal(seen['host'], 'one.test:8080');
  assert.equal(seen['x-forwarded-for'], '127.0.0.1', "the client's own claim is replaced (no forward_headers)");
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'one.test:8080');
  assert.equal(seen['x-request-id'], 'req-42');
  assert.match(seen['x-request-start'] ?? '', /^t=\d{13}$/);
  assert.equal(seen['x-private'], undefined);
  assert.equal(seen['keep-alive'], undefined);
  const fresh = JSON.parse((await send(port(), 'one.test', '/headers', { headers: { 'x-request-id': 'bad id!' } })).body) as Record<string, string>;
  assert.match(fresh['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
});

test('HEAD gets the headers and no body', async () => {
  await routes([{ hosts: ['one.test'], target: v1.target }]);
  const answer = await send(port(), 'one.test', '/', { method: 'HEAD' });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['x-upstream'], 'v1');
  assert.equal(answer.headers['content-length'], '2');
  assert.equal(answer.body, '');
});

test('a client that goes away cancels the upstream request and its in-flight count', async () => {
  await routes([{ hosts: ['one.test'], target: v1.target }]);
  const closedBefore = v1.hangsClosed();
  const req = http.request({ host: '127.0.0.1', port: port(), path: '/hang', headers: { host: 'one.test' }, agent: false });
  req.on('error', () => undefined);
  req.end();
  await waitFor('the request in flight', async () => (await client().targets())[v1.target]?.inflight === 1);
  req.destroy();
  await waitFor('the upstream request to be cut', () => v1.hangsClosed() > closedBefore);
  await waitFor('in-flight back to 0', async () => (await client().targets())[v1.target]?.inflight === 0);
  assert.equal((await send(port(), 'one.test', '/')).body, 'v1');
});

test('a GET on a pooled socket the target closed is retried once on a fresh connection; a POST is not', async () => {
  // A target that answers the first request of each connection and drops the
  // connection on the second, as an app closing idle keep-alive sockets does.
  const connections: net.Socket[] = [];
  const flaky = net.createServer((socket) => {
    connections.push(socket);
    let served = 0;
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      if (!buffered.includes('\r\n\r\n')) return;
      buffered = '';
      served += 1;
      if (served > 1) {
        socket.destroy();
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nflaky');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  const target = `127.0.0.1:${(flaky.address() as net.AddressInfo).port}`;
  try {
    await routes([{ hosts: ['flaky.test'], target }]);
    for (let i = 0; i < 3; i++) {
      const answer = await send(port(), 'flaky.test', '/');
      assert.deepEqual([answer.status, answer.body], [200, 'flaky'], `GET ${i}`);
    }
    const post = await send(port(), 'flaky.test', '/', { method: 'POST', body: 'x' });
    assert.equal(post.status, 502, 'a request with a body is never replayed');
  } finally {
    for (const s of connections) s.destroy();
    await new Promise((r) => flaky.close(r));
  }
});
