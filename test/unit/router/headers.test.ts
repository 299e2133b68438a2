import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardRawResponseHeaders, forwardRequestHeaders, hasRequestBody } from '../../../agent/router/headers.js';
import { renderErrorPage } from '../../../agent/router/pages.js';

const info = { clientIp: '::ffff:192.0.2.7', proto: 'http' as const, nowMs: 1700000000123, newRequestId: () => 'fresh-id', trustForwarded: false };
const trusting = { ...info, trustForwarded: true };

test('forwarded headers are set from the socket, Host kept', () => {
  const out = forwardRequestHeaders({ host: 'demo.test:8080', 'x-forwarded-for': '198.51.100.1', accept: 'text/html' }, info);
  assert.equal(out['host'], 'demo.test:8080');
  assert.equal(out['accept'], 'text/html');
  assert.equal(out['x-forwarded-for'], '192.0.2.7', "a client's own X-Forwarded-For is dropped");
  assert.equal(out['x-forwarded-proto'], 'http');
  assert.equal(out['x-forwarded-host'], 'demo.test:8080');
  assert.equal(out['x-request-start'], 't=1700000000123');
  assert.equal(out['x-request-id'], 'fresh-id');
  assert.equal(forwardRequestHeaders({ host: 'a' }, info)['x-forwarded-for'], '192.0.2.7');
});

test('a sane incoming request id is kept; an insane one replaced', () => {
  assert.equal(forwardRequestHeaders({ host: 'a', 'x-request-id': 'abc-123' }, info)['x-request-id'], 'abc-123');
  for (const bad of ['', 'has space', 'x'.repeat(200), '<script>']) {
    assert.equal(forwardRequestHeaders({ host: 'a', 'x-request-id': bad }, info)['x-request-id'], 'fresh-id', bad);
  }
});

test('client-sent X-Forwarded-Proto/Host are overwritten, Forwarded and other X-Forwarded-* dropped', () => {
  const out = forwardRequestHeaders(
    {
      host: 'real.test', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test', forwarded: 'for=1.2.3.4',
      'x-forwarded-port': '443', 'x-forwarded-prefix': '/admin', 'x-real-ip': '1.2.3.4', 'x-forwarded': 'kept: not a forwarding field',
    },
    info,
  );
  assert.equal(out['x-forwarded-proto'], 'http');
  assert.equal(out['x-forwarded-host'], 'real.test');
  for (const name of ['forwarded', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip']) assert.equal(out[name], undefined, name);
  assert.equal(out['x-forwarded'], 'kept: not a forwarding field');
});

test('with forward_headers the proxy in front is believed: its headers kept, the socket address appended', () => {
  const out = forwardRequestHeaders(
    { host: 'real.test', 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'www.real.test', forwarded: 'for=198.51.100.1', 'x-real-ip': '198.51.100.1' },
    trusting,
  );
  assert.equal(out['x-forwarded-for'], '198.51.100.1, 192.0.2.7');
  assert.equal(out['x-forwarded-proto'], 'https');
  assert.equal(out['x-forwarded-host'], 'www.real.test');
  assert.equal(out['forwarded'], 'for=198.51.100.1');
  assert.equal(out['x-real-ip'], '198.51.100.1');
  const bare = forwardRequestHeaders({ host: 'real.test' }, trusting);
  assert.equal(bare['x-forwarded-for'], '192.0.2.7');
  assert.equal(bare['x-forwarded-proto'], 'http');
  assert.equal(bare['x-forwarded-host'], 'real.test');
});

test('hop-by-hop headers and headers named in Connection are stripped both ways, Host never', () => {
  const out = forwardRequestHeaders(
    {
      host: 'a',
      connection: 'keep-alive, x-secret, host',
      'keep-alive': 'timeout=5',
      'x-secret': '1',
      te: 'trailers',
      upgrade: 'h2c',
      'proxy-authorization': 'Basic x',
      'transfer-encoding': 'chunked',
      expect: '100-continue',
      'x-kept': 'yes',
    },
    info,
  );
  for (const h of ['connection', 'keep-alive', 'x-secret', 'te', 'upgrade', 'proxy-authorization', 'transfer-encoding', 'expect']) {
    assert.equal(out[h], undefined, h);
  }
  assert.equal(out['x-kept'], 'yes');
  assert.equal(out['host'], 'a');
});

test('response heads lose hop-by-hop fields and those Connection names; repeated fields and case stay', () => {
  const raw = (...fields: string[]): Buffer[] => fields.map((f) => Buffer.from(f, 'latin1'));
  const back = forwardRawResponseHeaders(
    raw('Connection', 'close', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'Content-Type', 'text/plain', 'Keep-Alive', 'timeout=5'),
  );
  assert.deepEqual(back, ['Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'Content-Type', 'text/plain']);
  const named = forwardRawResponseHeaders(raw('X-Private', 'p', 'Connection', 'keep-alive, X-Private', 'X-Kept', 'k', 'Upgrade', 'h2c', 'TE', 'trailers'));
  assert.deepEqual(named, ['X-Kept', 'k']);
});

test('hasRequestBody', () => {
  assert.equal(hasRequestBody({}), false);
  assert.equal(hasRequestBody({ 'content-length': '0' }), false);
  assert.equal(hasRequestBody({ 'content-length': '5' }), true);
  assert.equal(hasRequestBody({ 'transfer-encoding': 'chunked' }), true);
});

test('error pages escape what the client sent', () => {
  const page = renderErrorPage(503, 'There is no service for host <script>alert(1)</script>.');
  assert.match(page, /503 Service Unavailable/);
  assert.doesNotMatch(page, /<script>/);
  assert.match(page, /&#60;script&#62;/);
});
