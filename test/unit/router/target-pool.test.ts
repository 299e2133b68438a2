// TargetPool against a node:http target on 127.0.0.1: pools of targets that
// left the route table are closed once idle, routed ones are kept.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { TargetPool, type UpstreamHandler } from '../../../agent/router/target-pool.js';

let server: http.Server;
let target: string;

before(async () => {
  server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** One GET through the pool; resolves with the status and body. */
function get(pool: TargetPool, to: string): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let body = '';
    const handler: UpstreamHandler = {
      onConnect: () => undefined,
      onRequestSent: () => undefined,
      onHeaders: (s) => ((status = s), true),
      onData: (chunk) => ((body += chunk.toString()), true),
      onComplete: () => resolve([status, body]),
      onError: reject,
    };
    pool.dispatch(to, { method: 'GET', path: '/', headers: { host: 'demo.test' }, body: null }, handler);
  });
}

test('an unrouted target keeps its pool while busy and loses it once idle; a routed one keeps it', async () => {
  const pool = new TargetPool();
  try {
    assert.deepEqual(await get(pool, target), [200, 'ok']);
    pool.setRouted([target], () => false);
    assert.deepEqual(pool.targets(), [target], 'routed');
    pool.setRouted([], () => true);
    assert.deepEqual(pool.targets(), [target], 'unrouted but busy');
    pool.releaseIfUnrouted(target);
    assert.deepEqual(pool.targets(), [], 'unrouted and idle');
    // A later request (a route back to it) opens a new pool.
    assert.deepEqual(await get(pool, target), [200, 'ok']);
  } finally {
    pool.destroyAll();
  }
  assert.deepEqual(pool.targets(), []);
});
