// The control socket: what the agent can change, and that bad input changes nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { startRouter } from '../../../agent/router/main.js';
import type { RouteSet } from '../../../agent/router/types.js';
import {
  routerConfig,
  routeSet,
  send,
  startRouterBench,
  tempDir,
  type InProcessRouter,
  type RouterBench,
  type Upstream,
} from '../../support/router-fixtures.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;
let v1: Upstream;
const client = () => createRouterClient(router.socketPath);

let bench: RouterBench;
before(async () => {
  bench = await startRouterBench('v1');
  ({ dir, router } = bench);
  [v1] = bench.upstreams as [Upstream];
});
after(() => bench.stop());

/** A raw control request, to send what the typed client never would. */
function raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: router.socketPath, method, path, headers: { host: 'router', ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function snapshot(): Promise<RouteSet> {
  return JSON.parse(await readFile(join(dir.path, 'router', 'routes.json'), 'utf8')) as RouteSet;
}

test('a fresh router serves nothing at version 0 and says so', async () => {
  assert.deepEqual(await client().getRoutes(), { version: 0, routes: [] });
  const health = await client().health();
  assert.deepEqual(health, { ok: true, version: 0, pid: process.pid });
});

test('the socket is 0600 in a 0755 directory', async () => {
  assert.equal((await stat(router.socketPath)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir.path, 'run'))).mode & 0o777, 0o755);
});

test('PUT /routes makes a set live and snapshotted; GET /routes and /targets report it', async () => {
  const set = routeSet(5, [{ target: v1.target }]);
  assert.deepEqual(await client().putRoutes(set), { version: 5 });
  assert.deepEqual(await client().getRoutes(), set);
  assert.deepEqual(await snapshot(), set);
  assert.equal((await client().health()).version, 5);
  assert.deepEqual(await client().targets(), { [v1.target]: { inflight: 0 } });
  assert.equal((await send(router.http.port, 'demo.test', '/')).body, 'v1');
  assert.ok(router.logs.some((l) => /routes applied version=5 routes=1/.test(l)));
});

test('a stale version is refused with 409 stale_version and nothing changes', async () => {
  const live = await client().getRoutes();
  for (const version of [live.version, live.version - 1]) {
    await assert.rejects(client().putRoutes(routeSet(version, [{ hosts: ['other.test'], target: v1.target }])), {
      code: 'stale_version',
      status: 409,
      message: new RegExp(`version ${version} is not newer than the live version ${live.version}`),
    });
  }
  const direct = await raw('PUT', '/routes', JSON.stringify(routeSet(1, [])), { 'content-type': 'application/json' });
  assert.equal(direct.status, 409);
  assert.equal(direct.json.error.code, 'stale_version');
  assert.deepEqual(await client().getRoutes(), live);
  assert.deepEqual(await snapshot(), live);
});

test('malformed, unknown-field and invalid bodies are 400 and change nothing', async () => {
  const live = await client().getRoutes();
  const bodies: Array<[string, string]> = [
    ['{not json', 'invalid_json'],
    ['', 'invalid_json'],
    [JSON.stringify({ ...routeSet(live.version + 1, []), extra: 1 }), 'invalid_input'],
    [JSON.stringify(routeSet(live.version + 1, [{ target: v1.target, weight: 2 } as never])), 'invalid_input'],
    [JSON.stringify(routeSet(live.version + 1, [{ target: 'not-an-ip:80' }])), 'invalid_input'],
    [JSON.stringify({ version: live.version + 1 }), 'invalid_input'],
  ];
  for (const [body, code] of bodies) {
    const answer = await raw('PUT', '/routes', body);
    assert.equal(answer.status, 400, body);
    assert.equal(answer.json.error.code, code, body);
  }
  assert.deepEqual(await client().getRoutes(), live);
  assert.deepEqual(await snapshot(), live);
  // Positive control: the same socket still takes a valid set.
  const next = routeSet(live.version + 1, [{ target: v1.target }]);
  assert.deepEqual(await client().putRoutes(next), { version: next.version });
});

test('a control body over 1 MiB is 413 and changes nothing', async () => {
  const live = await client().getRoutes();
  const hosts = Array.from({ length: 100 }, (_, i) => `h${i}-${'x'.repeat(40)}.test`);
  const big = routeSet(live.version + 1, Array.from({ length: 400 }, (_, i) => ({ service: `s${i}`, hosts: hosts.map((h) => `${i}${h}`), target: v1.target })));
  const text = JSON.stringify(big);
  assert.ok(text.length > 1024 * 1024);
  const declared = await raw('PUT', '/routes', text);
  assert.equal(declared.status, 413);
  assert.equal(declared.json.error.code, 'payload_too_large');
  // Without a declared length (chunked), the limit holds as bytes arrive.
  const chunked = await raw('PUT', '/routes', text, { 'transfer-encoding': 'chunked' });
  assert.equal(chunked.status, 413);
  assert.deepEqual(await client().getRoutes(), live);
  assert.deepEqual(await snapshot(), live);
});

test('unknown endpoints and methods are 404 and 405', async () => {
  assert.equal((await raw('GET', '/nope')).status, 404);
  assert.equal((await raw('DELETE', '/routes')).status, 405);
  assert.equal((await raw('POST', '/health')).status, 405);
  assert.equal((await raw('GET', '/health')).status, 200);
});

test('a second router on the same socket is refused; a stale socket file is replaced; a non-socket is kept', async () => {
  await assert.rejects(startRouter(routerConfig(dir.path), { log: () => undefined }), /another router is already listening/);
  assert.equal((await client().health()).ok, true, 'the first router still answers');

  const other = await tempDir();
  try {
    const socketPath = join(other.path, 'run', 'router.sock');
    await mkdir(join(other.path, 'run'), { recursive: true });
    // A listener killed with SIGKILL leaves its socket file behind, as a crashed router does.
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`]);
    await new Promise((resolve) => crashed.stdout.once('data', resolve));
    crashed.kill('SIGKILL');
    await new Promise((resolve) => crashed.once('exit', resolve));
    assert.ok((await stat(socketPath)).isSocket(), 'stale socket file left behind');
    const second = await startRouter(routerConfig(other.path), { log: () => undefined });
    assert.equal((await createRouterClient(socketPath).health()).ok, true);
    await second.stop();

    await writeFile(socketPath, 'not a socket');
    await assert.rejects(startRouter(routerConfig(other.path), { log: () => undefined }), /exists and is not a socket/);
    assert.equal(await readFile(socketPath, 'utf8'), 'not a socket');
  } finally {
    await other.remove();
  }
});

test('the client reports an unreachable router as router_unreachable', async () => {
  await assert.rejects(createRouterClient(join(dir.path, 'missing.sock')).health(), { code: 'router_unreachable' });
});
