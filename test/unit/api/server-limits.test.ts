// The API server's connection limits on loopback with a real TLS certificate:
// an upgraded (WebSocket) connection is never cut by the header or keep-alive
// timeouts, yet keeps its slot under the per-address cap while it lives.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Hono } from 'hono';
import WebSocket from 'ws';
import { startApiServer, type ApiServer } from '../../../agent/api/server.js';
import { createWebSocketSupport } from '../../../agent/api/websocket.js';
import { agentPaths } from '../../../agent/config.js';
import { initIdentity, loadIdentity } from '../../../agent/identity.js';
import { waitFor } from '../../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-server-limits-'));
const support = createWebSocketSupport({ heartbeatMs: 60_000 });
const app = new Hono();
app.get('/ws', (c) => support.upgrade(c, { onOpen: () => undefined, onMessage: (data, peer) => peer.send(data), onClose: () => undefined }));
app.get('/', (c) => c.text('ok'));
let server: ApiServer;
const warnings: string[] = [];

before(async () => {
  await initIdentity(dir, { sans: ['127.0.0.1'], force: false });
  const identity = await loadIdentity(agentPaths(dir));
  server = await startApiServer(app, {
    listen: { host: '127.0.0.1', port: 0 },
    tlsCertPem: identity.tlsCertPem,
    tlsKeyPem: identity.tlsKeyPem,
    attachUpgrades: (s) => support.attach(s, app),
    limits: { maxConnections: 10, maxPerAddress: 3, headerTimeoutMs: 600 },
    warn: (m) => warnings.push(m),
  });
});

after(async () => {
  support.closeAll();
  await server.close(100);
  rmSync(dir, { recursive: true, force: true });
});

function openSocket(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${server.address.port}/ws`, { rejectUnauthorized: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** True once a fresh TLS connection is refused (closed before its handshake ends). */
function refused(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: server.address.port, rejectUnauthorized: false });
    s.once('secureConnect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
    s.once('close', () => resolve(true));
  });
}

/** A TLS connection that sends half a request head and waits; `closed` once the server gives up on it. */
function halfHead(): { closed: () => boolean } {
  let closed = false;
  const s = tls.connect({ host: '127.0.0.1', port: server.address.port, rejectUnauthorized: false }, () => s.write('GET / HTTP/1.1\r\n'));
  s.on('error', () => undefined);
  s.resume();
  s.once('close', () => (closed = true));
  return { closed: () => closed };
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (d) => resolve(String(d)));
    ws.send(text);
  });
}

test('an upgraded socket outlives the header timeout and keeps its slot under the per-address cap', async () => {
  const a = await openSocket();
  const b = await openSocket();
  let closed = 0;
  for (const ws of [a, b]) ws.once('close', () => (closed += 1));
  try {
    const witness = halfHead();
    await waitFor('the half-sent head closed by the header timeout', () => witness.closed());
    assert.equal(await echo(a, 'ping a'), 'ping a');
    assert.equal(await echo(b, 'ping b'), 'ping b');
    assert.equal(closed, 0, 'neither socket was closed by the server');
    const c = await openSocket();
    try {
      assert.equal(await refused(), true, 'a fourth connection from the address is refused while three sockets live');
      assert.match(warnings.join('\n'), /refusing connections from 127\.0\.0\.1: 3 open \(the per-address cap\)/);
    } finally {
      c.close();
    }
  } finally {
    a.close();
    b.close();
  }
  await waitFor('the slots are free again once the sockets close', async () => !(await refused()));
});
