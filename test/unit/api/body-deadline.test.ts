// The API server's body deadline (agent/api/body-deadline.ts), on a real HTTP
// server: a body still arriving after the deadline drops the connection,
// unless the route lengthened it (the signed restore upload); then only a
// pause without bytes longer than the idle limit does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enforceBodyDeadline, lengthenBodyDeadline } from '../../../agent/api/body-deadline.js';

const DEADLINE_MS = 200;
const IDLE_MS = 2_000;
let server: Server;
let port: number;

before(async () => {
  server = createServer({ requestTimeout: 0 }, (req, res) => {
    if (req.url === '/long') lengthenBodyDeadline(req, IDLE_MS);
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => res.end(`got ${size}`));
  });
  enforceBodyDeadline(server, DEADLINE_MS);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** PUTs `chunks` chunks of 1 KiB, each `gapMs` after the last; resolves with the answer, or `dropped`. */
function slowPut(path: string, chunks: number, gapMs: number, pauseAt = -1, pauseMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'PUT', headers: { 'content-length': String(chunks * 1024) } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve('dropped'));
    let sent = 0;
    const next = () => {
      if (req.destroyed) return;
      req.write(Buffer.alloc(1024));
      sent += 1;
      if (sent === chunks) return void req.end();
      setTimeout(next, sent === pauseAt ? pauseMs : gapMs);
    };
    next();
  });
}

test('a body still arriving after the deadline drops the connection', async () => {
  assert.equal(await slowPut('/short', 12, 100), 'dropped');
});

test('a lengthened body may take longer while bytes keep coming', async () => {
  assert.equal(await slowPut('/long', 12, 100), `got ${12 * 1024}`);
});

test('a lengthened body that pauses longer than the idle limit is dropped', async () => {
  assert.equal(await slowPut('/long', 4, 50, 2, IDLE_MS * 2), 'dropped');
});

test('a body that arrives in time is answered', async () => {
  assert.equal(await slowPut('/short', 3, 10), `got ${3 * 1024}`);
});
