// The WebSocket adapter on a loopback server: a peer that stops answering
// pings is dropped (its process with it); a live one is kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import WebSocket from 'ws';
import { createWebSocketSupport, type WsHandlers } from '../../../agent/api/websocket.js';

const support = createWebSocketSupport({ heartbeatMs: 50 });
const app = new Hono();
let handlers: () => WsHandlers;
app.get('/ws', (c) => support.upgrade(c, handlers()));
const server = createServer((_req, res) => res.end());
support.attach(server, app);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
after(() => {
  support.closeAll();
  server.close();
});

function watched() {
  let opened!: () => void;
  let closed!: () => void;
  const state = { open: new Promise<void>((r) => (opened = r)), closed: new Promise<void>((r) => (closed = r)), isClosed: false };
  const h: WsHandlers = {
    onOpen: () => opened(),
    onMessage: () => undefined,
    onClose: () => {
      state.isClosed = true;
      closed();
    },
  };
  return { h, state };
}

test('a peer that stops answering pings is dropped: the session closes', { timeout: 10_000 }, async () => {
  const { h, state } = watched();
  handlers = () => h;
  // A client that completed the handshake, then went silent (a dead network answers nothing).
  const socket = connect(port, '127.0.0.1');
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await state.open;
  await state.closed;
  socket.destroy();
});

test('a peer that answers pings stays connected', { timeout: 10_000 }, async () => {
  const { h, state } = watched();
  handlers = () => h;
  const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  let pings = 0;
  const thirdPing = new Promise<void>((r) => client.on('ping', () => ++pings === 3 && r()));
  await thirdPing;
  assert.equal(client.readyState, WebSocket.OPEN);
  assert.equal(state.isClosed, false);
  client.close();
  await state.closed;
});
