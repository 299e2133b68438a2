import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWebSocketUpgrade, rawAnswer, relayedResponseHead, upgradeRequestHeaders } from '../../../agent/router/upgrade-headers.js';

const info = { clientIp: '192.0.2.7', proto: 'https' as const, nowMs: 1, newRequestId: () => 'id', trustForwarded: false };

test('only a GET with Upgrade: websocket is relayed as an upgrade', () => {
  assert.ok(isWebSocketUpgrade('GET', { upgrade: 'WebSocket' }));
  assert.ok(!isWebSocketUpgrade('POST', { upgrade: 'websocket' }));
  assert.ok(!isWebSocketUpgrade('GET', { upgrade: 'h2c' }));
  assert.ok(!isWebSocketUpgrade('GET', { upgrade: 'websocket, h2c' }));
  assert.ok(!isWebSocketUpgrade('GET', {}));
});

test('the upgrade request keeps its upgrade pair, drops other hop-by-hop fields and sets the forwarding headers', () => {
  const out = upgradeRequestHeaders(
    { host: 'a.test', connection: 'Upgrade, X-Secret', upgrade: 'websocket', 'x-secret': '1', 'keep-alive': 'timeout=5', 'sec-websocket-key': 'k', 'x-forwarded-for': '6.6.6.6' },
    info,
  );
  assert.equal(out['connection'], 'Upgrade');
  assert.equal(out['upgrade'], 'websocket');
  assert.equal(out['sec-websocket-key'], 'k');
  assert.equal(out['x-secret'], undefined);
  assert.equal(out['keep-alive'], undefined);
  assert.equal(out['x-forwarded-for'], '192.0.2.7');
  assert.equal(out['x-forwarded-proto'], 'https');
});

test('a 101 head keeps the upgrade pair and the target\'s other headers in order; hop-by-hop ones go', () => {
  const head = relayedResponseHead(101, 'Switching Protocols', ['Upgrade', 'websocket', 'Connection', 'Upgrade, X-Hop', 'Sec-WebSocket-Accept', 'abc', 'X-Hop', '1', 'Keep-Alive', 'timeout=5'], 'upgrade');
  assert.equal(head, 'HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
});

test('any other answer is the connection\'s last: framing by the target\'s length only, Connection: close', () => {
  const head = relayedResponseHead(403, '', ['Content-Type', 'text/plain', 'Transfer-Encoding', 'chunked', 'Connection', 'keep-alive'], 'close');
  assert.equal(head, 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n');
});

test('the router\'s own answers on a raw socket carry their length and close the connection', () => {
  assert.equal(rawAnswer(503, { 'Retry-After': '60' }, 'é\n', true), 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\nContent-Length: 3\r\nConnection: close\r\n\r\né\n');
  assert.equal(rawAnswer(400, {}, 'x', false), 'HTTP/1.1 400 Bad Request\r\nContent-Length: 1\r\nConnection: close\r\n\r\n');
});
