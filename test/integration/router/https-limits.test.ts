// The HTTPS listener shares the HTTP listener's connection budget and gets the
// same header timeout, the TLS handshake included.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startInProcessRouter, tempDir, type InProcessRouter } from '../../support/router-fixtures.js';
import { waitFor } from '../../support/wait.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;

before(async () => {
  dir = await tempDir();
  router = await startInProcessRouter(dir.path, {
    httpsListen: { host: '127.0.0.1', port: 0 },
    connections: { maxConnections: 50, maxPerAddress: 3, headerTimeoutMs: 2_000 },
  });
});
after(async () => {
  await router.stop();
  await dir.remove();
});

interface Conn {
  socket: net.Socket;
  closed: () => boolean;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve({ socket, closed: () => closed }));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

test('one client address gets one budget across :80 and :443', async () => {
  const https = router.https!;
  const held = [await open(router.http.port), await open(router.http.port), await open(https.port)];
  const over = await open(https.port);
  await waitFor('the connection over the per-address cap to be closed', () => over.closed());
  assert.ok(held.every((c) => !c.closed()), 'the first three stay open');
  for (const c of held) c.socket.destroy();
  await waitFor('a slot to be free again', async () => {
    const c = await open(https.port);
    await new Promise((r) => setTimeout(r, 50));
    const ok = !c.closed();
    c.socket.destroy();
    return ok;
  });
});

test('a TCP connection that never sends a ClientHello is closed within the header timeout', async () => {
  const c = await open(router.https!.port);
  await waitFor('the silent connection to be closed', () => c.closed(), 5_000);
});
