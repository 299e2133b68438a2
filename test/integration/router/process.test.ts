// The router as a real process: snapshot across restarts, a corrupt snapshot,
// graceful SIGTERM, and bad options.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { AGENT_BIN } from '../../support/berth-host.js';
import {
  routeSet,
  send,
  startInProcessRouter,
  startRouterProcess,
  startUpstream,
  tempDir,
  waitFor,
  type Upstream,
} from '../../support/router-fixtures.js';

let v1: Upstream;

before(async () => {
  v1 = await startUpstream('v1');
});

after(async () => {
  await v1.close();
});

test('after a restart (clean or crash) the router serves the last routes from its snapshot', async () => {
  const dir = await tempDir();
  try {
    let proc = await startRouterProcess(dir.path);
    const port = proc.port;
    const set = routeSet(7, [{ target: v1.target }]);
    await createRouterClient(proc.socketPath).putRoutes(set);
    assert.equal((await send(port, 'demo.test', '/')).body, 'v1');

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
    proc = await startRouterProcess(dir.path, port);
    assert.deepEqual(await createRouterClient(proc.socketPath).getRoutes(), set);
    assert.equal((await send(port, 'demo.test', '/')).body, 'v1', 'served without any PUT');

    proc.child.kill('SIGKILL');
    await proc.exited;
    proc = await startRouterProcess(dir.path, port);
    assert.equal((await send(port, 'demo.test', '/')).body, 'v1', 'served after a crash too');
    await assert.rejects(createRouterClient(proc.socketPath).putRoutes(routeSet(7, [])), { code: 'stale_version' });
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
  } finally {
    await dir.remove();
  }
});

test('a corrupt snapshot is logged and ignored: the router starts empty and takes new routes', async () => {
  const dir = await tempDir();
  try {
    const snapshotPath = join(dir.path, 'router', 'routes.json');
    await mkdir(join(dir.path, 'router'), { recursive: true });
    for (const garbage of ['{"version": 3, "routes": [', JSON.stringify({ version: 3, routes: [{ target: 'nope' }] })]) {
      await writeFile(snapshotPath, garbage);
      const proc = await startRouterProcess(dir.path);
      try {
        assert.match(proc.stderr(), /error: ignoring unusable route snapshot/);
        const c = createRouterClient(proc.socketPath);
        assert.deepEqual(await c.getRoutes(), { version: 0, routes: [] });
        assert.equal((await send(proc.port, 'demo.test', '/')).status, 503);
        await c.putRoutes(routeSet(1, [{ target: v1.target }]));
        assert.equal((await send(proc.port, 'demo.test', '/')).body, 'v1');
        assert.equal(JSON.parse(await readFile(snapshotPath, 'utf8')).version, 1, 'snapshot rewritten');
      } finally {
        proc.child.kill('SIGTERM');
        await proc.exited;
      }
    }
  } finally {
    await dir.remove();
  }
});

test('SIGTERM stops accepting, lets the in-flight request finish, and exits 0', async () => {
  const dir = await tempDir();
  try {
    const proc = await startRouterProcess(dir.path);
    await createRouterClient(proc.socketPath).putRoutes(routeSet(1, [{ target: v1.target }]));
    let started = false;
    const slow = send(proc.port, 'demo.test', '/gated', { onFirstChunk: () => (started = true) });
    await waitFor('the slow request to start', () => started);

    proc.child.kill('SIGTERM');
    await waitFor('the router to begin stopping', () => /stopping; waiting for 1 in-flight/.test(proc.stderr()));
    await assert.rejects(send(proc.port, 'demo.test', '/'), { code: 'ECONNREFUSED' });
    assert.equal(proc.child.exitCode, null, 'still running while a request is in flight');

    v1.openGate();
    const answer = await slow;
    assert.equal(answer.body, 'v1-first\nv1-last\n');
    assert.equal(await proc.exited, 0, proc.stderr());
  } finally {
    await dir.remove();
  }
});

test('the shutdown wait is bounded: a request that never ends is cut', async () => {
  const dir = await tempDir();
  try {
    const router = await startInProcessRouter(dir.path, { shutdownTimeoutMs: 300 });
    await createRouterClient(router.socketPath).putRoutes(routeSet(1, [{ target: v1.target }]));
    const hung = send(router.http.port, 'demo.test', '/hang');
    await waitFor('the request in flight', async () => (await createRouterClient(router.socketPath).targets())[v1.target]?.inflight === 1);
    await router.stop();
    await assert.rejects(hung, /socket hang up|ECONNRESET/);
    assert.ok(router.logs.some((l) => /shutdown timeout: cutting 1 request/.test(l)));
  } finally {
    await dir.remove();
  }
});

test('bad options: the usage exit code or 1, with a message, nothing listening', async () => {
  // `berth-agent router` as systemd runs it: an unknown option is a usage error (2), a bad value 1.
  for (const [args, want] of [[['--bogus'], 2], [['--http-listen', 'nowhere'], 1]] as const) {
    const child = spawn(process.execPath, [AGENT_BIN, 'router', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, want, args.join(' '));
    assert.match(stderr, /berth-agent: .*(bogus|--http-listen must be IP:PORT)/, stderr);
  }
});
