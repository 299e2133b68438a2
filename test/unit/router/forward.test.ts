// forward() against a pool port that never connects (a target IP that does not
// answer SYNs): the client gets the 504 page at the response timeout, and the
// request is aborted if a connection comes later. The client side is a real
// node:http server; only the pool is a stand-in.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { forward } from '../../../agent/router/forward.js';
import { NO_METRICS } from '../../../agent/router/metrics.js';
import type { TargetPool, UpstreamHandler } from '../../../agent/router/target-pool.js';
import { send } from '../../support/router-fixtures.js';
import { Spool } from '../../../agent/router/buffer-store.js';
import { tmpdir } from 'node:os';

const waiting: UpstreamHandler[] = [];
const pool = {
  dispatch: (_target: string, _request: unknown, handler: UpstreamHandler) => (waiting.push(handler), true),
} as unknown as TargetPool;
let server: http.Server;

before(async () => {
  server = http.createServer((req, res) => {
    const route = { service: 'demo', hosts: ['demo.test'], target: '192.0.2.1:80', response_timeout: 0.2 };
    forward({ pool, log: () => undefined, idleTimeoutMs: 60_000, metrics: NO_METRICS, spool: new Spool(tmpdir()) }, req, res, route, { path: '/', forward: '/' }, route.target);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('no connection within response_timeout: the 504 page, and the request is aborted once it gets one', async () => {
  const answer = await send((server.address() as AddressInfo).port, 'demo.test', '/');
  assert.equal(answer.status, 504);
  assert.match(answer.body, /504 Gateway Timeout/);
  assert.equal(waiting.length, 1);
  let aborted = 0;
  waiting[0]!.onConnect(() => (aborted += 1));
  assert.equal(aborted, 1);
});
