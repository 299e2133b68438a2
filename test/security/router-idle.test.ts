// A client that holds a router connection without moving a byte — an upload
// that stops, a connection that went silent mid-request — is closed after the
// idle timeout, so it cannot keep a slot (and a connection to the app) for
// ever. The idle timeout never cuts the wait for the app's answer (the route's
// response_timeout governs that) nor a stream that keeps sending.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../agent/router/client.js';
import { routeSet, send, startInProcessRouter, startUpstream, tempDir, type InProcessRouter, type Upstream } from '../support/router-fixtures.js';
import { waitFor } from '../support/wait.js';

const IDLE_MS = 1_000;
let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;
let app: Upstream;

before(async () => {
  dir = await tempDir();
  app = await startUpstream('app');
  router = await startInProcessRouter(dir.path, { idleTimeoutMs: IDLE_MS });
  await createRouterClient(router.socketPath).putRoutes(routeSet(1, [{ target: app.target }]));
});

after(async () => {
  await router.stop();
  await app.close();
  await dir.remove();
});

function silentAfter(request: string): { closed: () => boolean; socket: net.Socket } {
  let closed = false;
  const socket = net.connect(router.http.port, '127.0.0.1', () => socket.write(request));
  socket.on('error', () => undefined);
  socket.resume();
  socket.once('close', () => (closed = true));
  return { closed: () => closed, socket };
}

test('an upload that stops sending is closed after the idle timeout', async () => {
  const stalled = silentAfter('POST /upload HTTP/1.1\r\nHost: demo.test\r\nContent-Length: 100000\r\n\r\n0123456789');
  try {
    await waitFor('the stalled upload closed by the router', () => stalled.closed(), 10_000 + IDLE_MS);
  } finally {
    stalled.socket.destroy();
  }
});

test('the wait for a slow answer and a stream with short gaps are not idle', async () => {
  const slow = await send(router.http.port, 'demo.test', `/slow?ms=${IDLE_MS * 3}`);
  assert.deepEqual([slow.status, slow.body], [200, 'app']);
  const stream = await send(router.http.port, 'demo.test', `/stream?chunks=8&gap=${IDLE_MS / 4}`);
  assert.equal(stream.status, 200);
  assert.equal(stream.body.trim().split('\n').length, 8, stream.body);
});
