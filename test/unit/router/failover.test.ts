// forward() over a route with two targets, against a pool stand-in where the
// first target never connects (a stopped container's address that answers no
// SYN): the request goes to the second target at the connect deadline, the
// first leaves rotation, and a connection the first try gets at last is
// aborted. The client side is a real node:http server.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { Spool } from '../../../agent/router/buffer-store.js';
import { mayResend, CONNECT_TOO_SLOW, type Failover } from '../../../agent/router/failover.js';
import { forward } from '../../../agent/router/forward.js';
import { NO_METRICS } from '../../../agent/router/metrics.js';
import type { TargetPool, UpstreamHandler, UpstreamRequest } from '../../../agent/router/target-pool.js';
import type { Route } from '../../../agent/router/types.js';
import { send } from '../../support/router-fixtures.js';

const SILENT = '192.0.2.1:80';
const LIVE = '192.0.2.2:80';
const dispatched: Array<{ target: string; request: UpstreamRequest; handler: UpstreamHandler }> = [];
const failed: string[] = [];

function answer(handler: UpstreamHandler, body: string): void {
  handler.onConnect(() => undefined);
  handler.onRequestSent();
  handler.onHeaders(200, [Buffer.from('content-length'), Buffer.from(String(body.length))], () => undefined, 'OK');
  handler.onData(Buffer.from(body));
  handler.onComplete(null);
}

const pool = {
  dispatch(target: string, request: UpstreamRequest, handler: UpstreamHandler) {
    dispatched.push({ target, request, handler });
    if (target === LIVE) setImmediate(() => answer(handler, 'live'));
    return true;
  },
} as unknown as TargetPool;

let server: http.Server;
before(async () => {
  server = http.createServer((req, res) => {
    const route: Route = { service: 'demo', hosts: ['demo.test'], target: [SILENT, LIVE], response_timeout: 10 };
    const failover: Failover = {
      failed: (t) => failed.push(t),
      retarget: (from) => (from === SILENT ? LIVE : undefined),
    };
    forward({ pool, log: () => undefined, idleTimeoutMs: 60_000, metrics: NO_METRICS, spool: new Spool(tmpdir()) }, req, res, route, { path: '/', forward: '/' }, SILENT, failover);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('no connection by the connect deadline: another target answers (the response timeout would have been a 504)', async () => {
  const got = await send((server.address() as AddressInfo).port, 'demo.test', '/');
  assert.equal(got.status, 200);
  assert.equal(got.body, 'live');
  assert.deepEqual(dispatched.map((d) => d.target), [SILENT, LIVE]);
  assert.deepEqual(failed, [SILENT]);
  // The given-up try connects at last: it is aborted, and nothing of it reaches the client.
  let aborted = 0;
  dispatched[0]!.handler.onConnect(() => (aborted += 1));
  assert.equal(aborted, 1);
});

test('what may be resent elsewhere: bodiless GET/HEAD always; anything whose connection never opened, unless its body streams', () => {
  assert.equal(mayResend('GET', null, 'ECONNRESET'), true);
  assert.equal(mayResend('HEAD', null, undefined), true);
  assert.equal(mayResend('POST', null, 'ECONNRESET'), false);
  assert.equal(mayResend('POST', null, 'ECONNREFUSED'), true);
  assert.equal(mayResend('POST', Buffer.from('x'), CONNECT_TOO_SLOW), true);
  assert.equal(mayResend('POST', Buffer.from('x'), 'EPIPE'), false);
  assert.equal(mayResend('PUT', { pipe() {} }, 'ECONNREFUSED'), false, 'a streamed body was read once');
});
