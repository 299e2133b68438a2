// The engine's time limits, against local servers: a health check waits as long
// as the manifest says (not a fixed cap), and a pull that goes quiet fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { waitHttpHealthy } from '../../../agent/engine/health.js';
import { startRouteSync } from '../../../agent/engine/deploy.js';
import { followPull } from '../../../agent/docker.js';
import { UnhealthyError, UpstreamError } from '../../../shared/errors.js';
import { waitFor } from '../../support/wait.js';

async function slowServer(delayMs: number): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    setTimeout(() => res.end('ok'), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

const alive = async () => undefined;

test('a health check that answers after 2.5 s passes when healthcheck.timeout is 5 s', async () => {
  const { server, port } = await slowServer(2500);
  try {
    await waitHttpHealthy({ host: '127.0.0.1', port, path: '/up', intervalSeconds: 1, requestTimeoutSeconds: 5, timeoutSeconds: 10, checkAlive: alive });
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a health check slower than healthcheck.timeout fails, and the message names the real numbers', async () => {
  const { server, port } = await slowServer(10_000);
  try {
    await assert.rejects(
      waitHttpHealthy({ host: '127.0.0.1', port, path: '/up', intervalSeconds: 1, requestTimeoutSeconds: 1, timeoutSeconds: 3, checkAlive: alive }),
      (err: unknown) => {
        assert.ok(err instanceof UnhealthyError);
        assert.match(err.message, /^health check GET \/up on port \d+ did not return 2xx within 3s \(last: no answer within 1s\)$/);
        return true;
      },
    );
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('the request timeout never runs past deploy_timeout', async () => {
  const { server, port } = await slowServer(10_000);
  const started = Date.now();
  try {
    await assert.rejects(
      waitHttpHealthy({ host: '127.0.0.1', port, path: '/up', intervalSeconds: 1, requestTimeoutSeconds: 30, timeoutSeconds: 1, checkAlive: alive }),
      /did not return 2xx within 1s \(last: no answer within 1s\)/,
    );
    assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a pull stream that goes quiet fails with a clear message; a stream that ends is a positive control', async () => {
  const quiet = new PassThrough();
  quiet.write(`${JSON.stringify({ status: 'Pulling fs layer', id: 'aaaaaaaaaaaa' })}\n`);
  await assert.rejects(followPull(quiet, 'reg/app@sha256:x', { inactivityMs: 300 }), (err: unknown) => {
    assert.ok(err instanceof UpstreamError);
    assert.equal(err.message, 'docker pull reg/app@sha256:x made no progress for 0.3s; giving up');
    return true;
  });

  const fine = new PassThrough();
  const seen: string[] = [];
  // Quiet longer than the bound in all, never in one stretch; gaps far below
  // the bound so a busy machine's late timers do not look like a stall.
  const done = followPull(fine, 'reg/app@sha256:x', { inactivityMs: 1500, onEvent: (e) => seen.push(e.status ?? '') });
  const statuses = ['Waiting', 'Downloading', 'Downloading', 'Extracting', 'Extracting', 'Pull complete'];
  for (const status of statuses) {
    await new Promise((r) => setTimeout(r, 300));
    fine.write(`${JSON.stringify({ status, id: 'aaaaaaaaaaaa' })}\n`);
  }
  fine.end();
  await done;
  assert.deepEqual(seen, statuses);

  const failing = new PassThrough();
  const failed = followPull(failing, 'reg/app@sha256:x', { inactivityMs: 1000 });
  failing.end(`${JSON.stringify({ error: 'manifest unknown', errorDetail: { message: 'manifest unknown' } })}\n`);
  await assert.rejects(failed, /docker pull reg\/app@sha256:x failed: manifest unknown/);
});

test('the periodic route sync logs a failing sync instead of leaving an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const logged: string[] = [];
  let retried = 0;
  const stop = startRouteSync(
    {
      syncRoutes: () => Promise.reject(new Error('store is gone')),
      retryStranded: async () => {
        retried++;
      },
    },
    20,
    { info() {}, warn() {}, error: (msg) => logged.push(msg) },
  );
  try {
    await waitFor('a failed sync logged and a retry made', () => logged.includes('periodic route sync failed') && retried > 0, 10_000);
  } finally {
    stop();
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  assert.ok(logged.includes('periodic route sync failed'), logged.join(', '));
  assert.ok(retried > 0, 'a failed sync does not stop the retry of stranded deploys');
});
