// The upstream leg against targets that misbehave at the socket level: stale
// keep-alive sockets, deaths mid-answer, repeated and informational headers.
// Each target here is a raw net or node:http server on 127.0.0.1.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { routeSet, send, startInProcessRouter, tempDir, waitFor, type InProcessRouter } from '../../support/router-fixtures.js';
import type { Route } from '../../../agent/router/types.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;
let version = 0;

before(async () => {
  dir = await tempDir();
  router = await startInProcessRouter(dir.path);
});
after(async () => {
  await router.stop();
  await dir.remove();
});

async function routeTo(target: string, over: Partial<Route> = {}): Promise<void> {
  version += 1;
  await createRouterClient(router.socketPath).putRoutes(routeSet(version, [{ target, ...over }]));
}

/** A raw target: `onHead(socket, n)` runs for the n-th request head it reads (1-based, over all connections). */
async function rawTarget(onHead: (socket: net.Socket, n: number) => void): Promise<{ target: string; heads: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let heads = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        heads += 1;
        onHead(socket, heads);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    target: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    heads: () => heads,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('a stale pooled socket is retried once, on a fresh connection, and only for a GET that failed on a reused socket', async () => {
  // Answers the very first request, keeping the connection alive; drops every connection after that.
  const target = await rawTarget((socket, n) => {
    if (n === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
    else socket.destroy();
  });
  try {
    await routeTo(target.target);
    assert.deepEqual([(await send(router.http.port, 'demo.test', '/')).status, target.heads()], [200, 1]);
    // On the kept-alive socket, dropped; resent once on a new connection, dropped again: 502, never a third try.
    const retried = await send(router.http.port, 'demo.test', '/');
    assert.deepEqual([retried.status, target.heads()], [502, 3]);
    // No socket is left in the pool: a failure on a fresh connection is not retried.
    const fresh = await send(router.http.port, 'demo.test', '/');
    assert.deepEqual([fresh.status, target.heads()], [502, 4]);
  } finally {
    await target.close();
  }
});

test('a target that dies mid-answer cuts the client off, with a length and chunked', async () => {
  const target = await rawTarget((socket, n) => {
    const head = n % 2 === 1 ? 'content-length: 100' : 'transfer-encoding: chunked';
    const part = n % 2 === 1 ? 'x'.repeat(10) : 'a\r\nxxxxxxxxxx\r\n';
    socket.write(`HTTP/1.1 200 OK\r\n${head}\r\n\r\n${part}`);
    setImmediate(() => socket.destroy());
  });
  try {
    await routeTo(target.target);
    await assert.rejects(send(router.http.port, 'demo.test', '/length'), 'a short body with a length is not complete');
    await assert.rejects(send(router.http.port, 'demo.test', '/chunked'), 'a chunked body without its last chunk is not complete');
    await waitFor('both requests done', async () => ((await createRouterClient(router.socketPath).targets())[target.target]?.inflight ?? 0) === 0);
  } finally {
    await target.close();
  }
});

test("the target's repeated headers reach the client as sent; an informational 103 is not the answer", async () => {
  const app = http.createServer((_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' });
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.setHeader('x-app', 'yes');
    res.end('body');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  try {
    await routeTo(`127.0.0.1:${(app.address() as net.AddressInfo).port}`);
    const answer = await send(router.http.port, 'demo.test', '/');
    assert.deepEqual([answer.status, answer.body, answer.headers['x-app']], [200, 'body', 'yes']);
    assert.deepEqual(answer.headers['set-cookie'], ['a=1', 'b=2']);
  } finally {
    app.closeAllConnections();
    await new Promise((r) => app.close(r));
  }
});

test('a target that reads an upload slowly is not a timeout: the clock starts once the body is sent', async () => {
  let stalled = false;
  const app = http.createServer((req, res) => {
    // Reads nothing until the router has been blocked writing the body for longer than the response timeout.
    req.pause();
    setTimeout(() => {
      stalled = true;
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => res.end(String(bytes)));
      req.resume();
    }, 1_500);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  try {
    await routeTo(`127.0.0.1:${(app.address() as net.AddressInfo).port}`, { response_timeout: 0.3 });
    // Far more than the socket buffers between router and app hold.
    const body = Buffer.alloc(32 * 1024 * 1024, 'a');
    const answer = await send(router.http.port, 'demo.test', '/upload', { method: 'POST', body });
    assert.ok(stalled);
    assert.deepEqual([answer.status, answer.body], [200, String(body.length)]);
  } finally {
    app.closeAllConnections();
    await new Promise((r) => app.close(r));
  }
});
