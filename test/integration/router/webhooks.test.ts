// The reserved /.berth/webhooks/ prefix in the real router: on a routed host,
// an unrouted one and one in maintenance the request goes to the agent's
// webhook socket (here a recording stand-in), never to the app; only POST; the
// body is capped at 64 KiB before it reaches the agent; X-Forwarded-For is the
// router's; with the agent away the sender gets 503 at once.
import assert from 'node:assert/strict';
import http from 'node:http';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { routeSet, send, startRouterBench, type InProcessRouter, type RouterBench, type Upstream } from '../../support/router-fixtures.js';

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
}

let bench: RouterBench;
let router: InProcessRouter;
let app: Upstream;
let agent: http.Server;
let socketPath: string;
const seen: Seen[] = [];
const PATH = '/.berth/webhooks/generic/TOKENTOKENTOKEN';

function startAgentStandIn(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, bytes });
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ delivery_id: `d${seen.length}` }));
    });
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve(server)));
}

before(async () => {
  bench = await startRouterBench('app');
  ({ router } = bench);
  [app] = bench.upstreams as [Upstream];
  socketPath = join(bench.dir.path, 'run', 'webhooks.sock');
  agent = await startAgentStandIn();
  await createRouterClient(router.socketPath).putRoutes(routeSet(1, [
    { hosts: ['demo.test'], target: app.target },
    { service: 'paused', hosts: ['paused.test'], target: app.target, maintenance: { message: 'Back soon' } },
  ]));
});
after(async () => {
  await new Promise((r) => agent.close(r));
  await bench.stop();
});

const appHits = () => [...app.hits.values()].reduce((a, b) => a + b, 0);

test('a delivery on a routed, an unrouted and a maintenance host reaches the agent, never the app', async () => {
  const before = appHits();
  for (const host of ['demo.test', 'nobody.test', 'paused.test']) {
    seen.length = 0;
    const answer = await send(router.http.port, host, `${PATH}?x=1`, {
      method: 'POST', body: '{"repository":"a/b","tag":"main"}',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '6.6.6.6', 'x-berth-signature': 'sha256=00' },
    });
    assert.deepEqual([answer.status, JSON.parse(answer.body)], [202, { delivery_id: 'd1' }], host);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.path, `${PATH}?x=1`);
    assert.equal(seen[0]!.bytes, 33);
    assert.equal(seen[0]!.headers['x-berth-signature'], 'sha256=00', 'the sender’s headers pass');
    assert.equal(seen[0]!.headers['x-forwarded-for'], '127.0.0.1', 'the client address is the router’s to say');
  }
  assert.equal(appHits(), before, 'the app saw none of them');
});

test('only POST: anything else is 405 and reaches nobody', async () => {
  seen.length = 0;
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const answer = await send(router.http.port, 'demo.test', PATH, { method });
    assert.equal(answer.status, 405, method);
    assert.equal(answer.headers.allow, 'POST');
  }
  assert.equal(seen.length, 0);
});

test('a body over 64 KiB is 413 without reaching the agent, declared or streamed', async () => {
  seen.length = 0;
  const declared = await send(router.http.port, 'demo.test', PATH, { method: 'POST', body: 'x'.repeat(64 * 1024 + 1) });
  assert.equal(declared.status, 413);
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: router.http.port, path: PATH, method: 'POST', headers: { host: 'demo.test', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(16 * 1024, 'y');
    const write = (left: number): void => {
      if (left === 0 || req.destroyed) return void req.end();
      req.write(chunk, () => write(left - 1));
    };
    write(8);
  });
  assert.equal(streamed, 413);
  assert.deepEqual(seen, [], 'the agent was never asked');
});

test('with the agent away the sender gets 503 JSON, and the router keeps serving the app', async () => {
  await new Promise((r) => agent.close(r));
  await unlink(socketPath).catch(() => undefined);
  const answer = await send(router.http.port, 'demo.test', PATH, { method: 'POST', body: '{}' });
  assert.equal(answer.status, 503);
  assert.equal(JSON.parse(answer.body).error.code, 'agent_unavailable');
  assert.equal((await send(router.http.port, 'demo.test', '/')).status, 200);
  assert.doesNotMatch(router.logs.join('\n'), /TOKENTOKEN/, 'the path is never logged');
  agent = await startAgentStandIn();
});
