// The router routes by the request target it forwards: refused targets and the
// origin-form sent on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRequestTarget, stripPathPrefix } from '../../../agent/router/request-target.js';

const ok = (raw: string, host = 'demo.test') => {
  const v = parseRequestTarget(raw, host);
  assert.ok(v.ok, `${raw}: ${v.ok ? '' : v.reason}`);
  return v.target;
};
const refused = (raw: string, host: string | undefined = 'demo.test'): string => {
  const v = parseRequestTarget(raw, host);
  assert.ok(!v.ok, `${raw} was accepted`);
  return v.reason;
};

test('origin-form targets are forwarded unchanged, routed by their path', () => {
  assert.deepEqual(ok('/'), { path: '/', forward: '/' });
  assert.deepEqual(ok('/up?full=1&x=/../y'), { path: '/up', forward: '/up?full=1&x=/../y' });
  assert.deepEqual(ok('/a%2Fb/c..d/.well-known/x.'), { path: '/a%2Fb/c..d/.well-known/x.', forward: '/a%2Fb/c..d/.well-known/x.' });
  assert.deepEqual(ok('/%252e%252e/x'), { path: '/%252e%252e/x', forward: '/%252e%252e/x' }, 'double-encoded dots are no dot segment');
});

test('a fragment anywhere is refused', () => {
  for (const raw of ['/up#/../index.html', '/#', '/up?x#y', 'http://demo.test/up#x']) assert.match(refused(raw), /fragment/, raw);
});

test('dot segments, raw or percent-encoded, and backslashes are refused', () => {
  for (const raw of ['/up/../x', '/..', '/./x', '/up/.', '/up/%2e%2e/x', '/up/%2E%2e', '/up/.%2E/x', '/up/%2e', '/up%2f..%2fx', '/up%5c..%5cx']) {
    assert.match(refused(raw), /"\." or "\.\." segments/, raw);
  }
  for (const raw of ['/up\\..\\x', '/a\\b']) assert.match(refused(raw), /backslash/, raw);
});

test('a dot segment with path parameters (`..;x`, read as `..` by Tomcat and Jetty) is refused; other parameters pass', () => {
  for (const raw of ['/api/..;/admin', '/api/..;jsessionid=1/x', '/api/.;/x', '/api/%2e%2e;/x', '/api/..%3b/x']) {
    assert.match(refused(raw), /"\." or "\.\." segments/, raw);
  }
  assert.deepEqual(ok('/a;b/c..;d/x;jsessionid=1'), { path: '/a;b/c..;d/x;jsessionid=1', forward: '/a;b/c..;d/x;jsessionid=1' });
});

test('absolute-form is accepted only for the Host it is sent with, and forwarded in origin-form', () => {
  assert.deepEqual(ok('http://demo.test/up?x=1'), { path: '/up', forward: '/up?x=1' });
  assert.deepEqual(ok('HTTP://DEMO.test:80'), { path: '/', forward: '/' });
  assert.deepEqual(ok('https://demo.test?q'), { path: '/', forward: '/?q' });
  for (const raw of ['http://other.test/up', 'http://x@demo.test/', 'http:///up']) assert.match(refused(raw), /must name the Host/, raw);
  const noHost = parseRequestTarget('http://demo.test/up', undefined);
  assert.ok(!noHost.ok && /must name the Host/.test(noHost.reason), 'no Host header');
  assert.match(refused('http://demo.test/../x'), /segments/);
});

test('asterisk-form and authority-form name no path', () => {
  for (const raw of ['*', 'demo.test:443', '', 'up']) assert.match(refused(raw), /must be a path/, raw);
});

test('stripping a prefix keeps the query and leaves at least /', () => {
  const strip = (raw: string, prefix: string) => stripPathPrefix(ok(raw), prefix);
  assert.deepEqual(strip('/api/users?x=1', '/api'), { path: '/users', forward: '/users?x=1' });
  assert.deepEqual(strip('/api', '/api'), { path: '/', forward: '/' });
  assert.deepEqual(strip('/api?x=/api/', '/api'), { path: '/', forward: '/?x=/api/' });
  assert.deepEqual(strip('/api/', '/api'), { path: '/', forward: '/' });
  assert.deepEqual(strip('/api/users', '/api/'), { path: '/users', forward: '/users' });
  assert.deepEqual(strip('/api', '/api/'), { path: '/', forward: '/' });
  assert.deepEqual(strip('/api/v2/x', '/api/v2'), { path: '/x', forward: '/x' });
  assert.deepEqual(strip('/api//evil.test/x?y', '/api'), { path: '/evil.test/x', forward: '/evil.test/x?y' }, 'never a leading // (read as a host)');
  assert.deepEqual(strip('/api///x', '/api/'), { path: '/x', forward: '/x' });
  assert.deepEqual(strip('/x?y', '/'), { path: '/x', forward: '/x?y' }, 'the root prefix strips nothing');
});

test('what a stripped target forwards never climbs out of the prefix: dot segments are refused before', () => {
  for (const raw of ['/api/../admin', '/api/%2e%2e/admin', '/api%2f..%2fadmin', '/api/.%2e/admin']) refused(raw);
});
