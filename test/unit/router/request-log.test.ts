// The request log's lines from fake requests: fields, redaction, bounds, and
// what happens when its output is backed up.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { createRequestLog } from '../../../agent/router/request-log.js';
import type { Route } from '../../../agent/router/types.js';

function fakeExchange(url: string, headers: Record<string, string>, head: string) {
  const socket = { bytesWritten: 0, remoteAddress: '::ffff:10.1.2.3' };
  const req = { url, method: 'POST', headers: { host: 'demo.test', ...headers }, socket } as unknown as IncomingMessage;
  const res = Object.assign(new EventEmitter(), { statusCode: 201, writableFinished: true, _header: head, getHeader: () => undefined }) as unknown as ServerResponse;
  return { req, res, finish: () => { socket.bytesWritten += head.length; res.emit('close'); } };
}

const route: Route = {
  service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80',
  logging: { request_headers: ['Cookie', 'X-Trace'], response_headers: ['Set-Cookie', 'X-App', 'Missing'] },
};

test('a line: the request as sent, the chosen headers with credentials redacted, values cut', () => {
  const written: string[] = [];
  const log = createRequestLog({ write: (s) => (written.push(s), true), now: () => 0, clock: () => 0 });
  const x = fakeExchange(`/api/x?token=${'q'.repeat(3000)}`, { cookie: 's=SECRET', 'x-trace': 'v'.repeat(1000), 'x-request-id': 'bad id!' },
    'HTTP/1.1 201 Created\r\nSet-Cookie: a=SECRET\r\nX-App: one\r\nx-app: two\r\n\r\n');
  log.track(x.req, x.res, () => route);
  x.finish();
  log.flush();
  const line = JSON.parse(written.join('')) as Record<string, unknown>;
  assert.equal(line['time'], '1970-01-01T00:00:00.000Z');
  assert.equal(line['path'], '/api/x');
  assert.equal((line['query'] as string).length, 2049, 'cut at 2048 and marked');
  assert.equal(line['status'], 201);
  assert.equal(line['client_addr'], '10.1.2.3');
  assert.match(line['request_id'] as string, /^[0-9a-f-]{36}$/, 'an insane id is replaced, and the app gets the logged one');
  assert.equal(x.req.headers['x-request-id'], line['request_id']);
  assert.equal(line['req_cookie'], '[redacted]');
  assert.equal((line['req_x_trace'] as string).length, 513);
  assert.equal(line['resp_set_cookie'], '[redacted]');
  assert.equal(line['resp_x_app'], 'one, two');
  assert.equal(line['resp_missing'], '');
  assert.ok(!written.join('').includes('SECRET'));
});

test('batches its output went without are dropped and counted once it takes lines again', () => {
  const written: string[] = [];
  let open = false;
  const log = createRequestLog({ write: (s) => (open ? (written.push(s), true) : false) });
  for (let i = 0; i < 3; i++) {
    const x = fakeExchange('/', {}, 'HTTP/1.1 200 OK\r\n\r\n');
    log.track(x.req, x.res, () => undefined);
    x.finish();
  }
  log.flush();
  open = true;
  const x = fakeExchange('/after', {}, 'HTTP/1.1 200 OK\r\n\r\n');
  log.track(x.req, x.res, () => undefined);
  x.finish();
  log.flush();
  const lines = written.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l['path'] ?? l['dropped']), ['/after', 3]);
});

test('time: milliseconds padded, each second and day right; values JSON would escape are escaped as it does', () => {
  const times = [Date.UTC(2026, 11, 31, 23, 59, 59, 7), Date.UTC(2026, 11, 31, 23, 59, 59, 42), Date.UTC(2027, 0, 1, 0, 0, 0, 999), Date.UTC(2027, 0, 1, 0, 0, 1, 0)];
  const written: string[] = [];
  let at = 0;
  const log = createRequestLog({ write: (s) => (written.push(s), true), now: () => times[at]!, clock: () => 0 });
  const odd = ['quote " and \\ backslash', 'tab\tnewline\ncontrol\u0001', 'lone \ud800 surrogate', 'pair \ud83d\ude00 and é', '\u2028 and \u007f'];
  for (at = 0; at < times.length; at++) {
    const x = fakeExchange('/', { 'user-agent': odd[at]! }, 'HTTP/1.1 200 OK\r\n\r\n');
    log.track(x.req, x.res, () => undefined);
    x.finish();
  }
  at = 0;
  const x = fakeExchange('/', { 'user-agent': odd[4]! }, 'HTTP/1.1 200 OK\r\n\r\n');
  log.track(x.req, x.res, () => undefined);
  x.finish();
  log.flush();
  const text = written.join('');
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l['time']), [...times, times[0]!].map((t) => new Date(t).toISOString()));
  assert.deepEqual(lines.map((l) => l['user_agent']), odd);
  for (const value of odd) assert.ok(text.includes(JSON.stringify(value).slice(1, -1)), `${JSON.stringify(value)} written as JSON.stringify writes it`);
  assert.equal(text.split('\n').length, lines.length + 1, 'no value splits a line');
});
