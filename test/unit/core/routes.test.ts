import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { proxiedRoles, publishedRoutes, routeFor, routeKey, routeOwner, sameRoutes, targetAddress } from '../../../agent/core/routes.js';
import { fullManifest, minimalManifest } from '../../support/manifest-fixture.js';

test('a proxied role routes its hosts to the container address and app port', () => {
  const m = parseManifestPayload(fullManifest());
  assert.deepEqual(routeFor(m, 'web', '10.210.0.7'), {
    service: 'demo@staging',
    hosts: ['demo.example.com', '*.demo.example.com'],
    target: '10.210.0.7:3000',
    health_path: '/health',
    response_timeout: 30,
    buffering: { requests: true, responses: true },
  });
  assert.deepEqual(routeKey(m, 'web'), { service: 'demo', destination: 'staging' });
});

test('several addresses give a list of targets in their order; one gives the plain target older routers read', () => {
  const m = parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], app_port: 3000 }, replicas: 2 } } }));
  assert.deepEqual(routeFor(m, 'web', ['10.0.0.3', '10.0.0.2'])?.target, ['10.0.0.3:3000', '10.0.0.2:3000']);
  assert.equal(routeFor(m, 'web', ['10.0.0.3'])?.target, '10.0.0.3:3000');
});

test('a role without proxy has no route', () => {
  const m = parseManifestPayload(fullManifest());
  assert.equal(routeFor(m, 'worker', '10.210.0.8'), undefined);
  assert.deepEqual(proxiedRoles(m), ['web']);
});

test("defaults: port 80, no destination, no response timeout, health path /up, buffered both ways (Kamal's)", () => {
  const m = parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'] } } } }));
  assert.deepEqual(routeFor(m, 'web', '10.0.0.2'), {
    service: 'demo', hosts: ['a.test'], target: '10.0.0.2:80', health_path: '/up', buffering: { requests: true, responses: true },
  });
});

test('a second proxied role gets its own key; web stays the primary', () => {
  const m = parseManifestPayload(
    minimalManifest({ roles: { api: { proxy: { hosts: ['api.test'] } }, web: { proxy: { hosts: ['www.test'] } } } }),
  );
  assert.deepEqual(proxiedRoles(m), ['web', 'api']);
  assert.deepEqual(routeKey(m, 'web'), { service: 'demo', destination: '' });
  assert.deepEqual(routeKey(m, 'api'), { service: 'demo.api', destination: '' });
  assert.equal(routeFor(m, 'api', '10.0.0.3')?.service, 'demo.api');
});

test('IPv6 targets are bracketed', () => {
  assert.equal(targetAddress('fd00::5', 80), '[fd00::5]:80');
  assert.equal(targetAddress('10.0.0.5', 8080), '10.0.0.5:8080');
});

test('sameRoutes ignores order, sees any difference', () => {
  const a = { service: 'a', hosts: ['x.test', 'y.test'], target: '10.0.0.1:80' };
  const b = { service: 'b', hosts: ['z.test'], target: '10.0.0.2:80' };
  assert.ok(sameRoutes([a, b], [b, { ...a, hosts: ['y.test', 'x.test'] }]));
  assert.ok(!sameRoutes([a, b], [a, { ...b, target: '10.0.0.3:80' }]));
  assert.ok(!sameRoutes([a], [a, b]));
  assert.ok(!sameRoutes([a], [{ ...a, response_timeout: 5 }]));
});

test('sameRoutes sees a health path or maintenance change', () => {
  const a = { service: 'a', hosts: ['x.test'], target: '10.0.0.1:80', health_path: '/up' };
  assert.ok(!sameRoutes([a], [{ ...a, health_path: '/health' }]));
  assert.ok(!sameRoutes([a], [{ ...a, maintenance: {} }]));
  assert.ok(!sameRoutes([{ ...a, maintenance: { message: 'x' } }], [{ ...a, maintenance: { message: 'y' } }]));
  assert.ok(sameRoutes([{ ...a, maintenance: { message: 'x' } }], [{ ...a, maintenance: { message: 'x' } }]));
});

test('routeOwner reads service and destination from router entry names', () => {
  assert.deepEqual(routeOwner('demo'), { service: 'demo', destination: '' });
  assert.deepEqual(routeOwner('demo.api'), { service: 'demo', destination: '' });
  assert.deepEqual(routeOwner('demo.api@staging'), { service: 'demo', destination: 'staging' });
  assert.deepEqual(routeOwner('demo@staging'), { service: 'demo', destination: 'staging' });
});

test('publishedRoutes flags every route of a service in maintenance, and only those', () => {
  const routes = [
    { service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/health' },
    { service: 'demo.api', hosts: ['api.test'], target: '10.0.0.2:80', health_path: '/up' },
    { service: 'demo@staging', hosts: ['staging.test'], target: '10.0.0.3:80' },
    { service: 'demo-two', hosts: ['two.test'], target: '10.0.0.4:80' },
  ];
  const out = publishedRoutes(routes, [{ service: 'demo', destination: '', message: 'Back at 5' }]);
  assert.deepEqual(out, [
    { ...routes[0], maintenance: { message: 'Back at 5' } },
    { ...routes[1], maintenance: { message: 'Back at 5' } },
    // Routes stored before routes carried a health path get the manifest default.
    { ...routes[2], health_path: '/up' },
    { ...routes[3], health_path: '/up' },
  ]);
  assert.deepEqual(routes[0], { service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/health' }, 'input untouched');
});

test('publishedRoutes drops a maintenance flag that is no longer in the table', () => {
  const stale = { service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/up', maintenance: { message: 'old' } };
  assert.deepEqual(publishedRoutes([stale], []), [{ service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/up' }]);
});

test('publishedRoutes sets the pause of every route of a paused service, drops a stale one, and a change is a difference', () => {
  const routes = [
    { service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/up', pause: { timeout: 1 } },
    { service: 'demo.api@staging', hosts: ['api.test'], target: '10.0.0.2:80', health_path: '/up' },
    { service: 'other', hosts: ['other.test'], target: '10.0.0.3:80', health_path: '/up' },
  ];
  const out = publishedRoutes(routes, [], [{ service: 'demo', destination: 'staging', timeout: 30 }]);
  assert.deepEqual(out, [
    { service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/up' },
    { ...routes[1], pause: { timeout: 30 } },
    routes[2],
  ]);
  const a = routes[2]!;
  assert.ok(!sameRoutes([a], [{ ...a, pause: { timeout: 30 } }]));
  assert.ok(!sameRoutes([{ ...a, pause: { timeout: 5 } }], [{ ...a, pause: { timeout: 30 } }]));
});

test('forward_headers reaches the route only when true, and a change is a difference', () => {
  const trusting = parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], forward_headers: true } } } }));
  assert.equal(routeFor(trusting, 'web', '10.0.0.2')?.forward_headers, true);
  const plain = parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], forward_headers: false } } } }));
  assert.equal(routeFor(plain, 'web', '10.0.0.2')?.forward_headers, undefined);
  const a = { service: 'a', hosts: ['x.test'], target: '10.0.0.1:80' };
  assert.ok(!sameRoutes([a], [{ ...a, forward_headers: true }]));
  assert.ok(sameRoutes([a], [{ ...a, forward_headers: false }]));
});

test('forward_headers must be a boolean in the manifest', () => {
  assert.throws(() => parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], forward_headers: 'yes' } } } } as never)), /forward_headers/);
});

test('path prefixes reach the route with stripping on by default (Kamal); one prefix travels as a string', () => {
  const route = (proxy: Record<string, unknown>) =>
    routeFor(parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], ...proxy } } } })), 'web', '10.0.0.2');
  const one = route({ path_prefixes: ['/api'] });
  assert.equal(one?.path_prefix, '/api');
  assert.equal(one?.strip_path_prefix, true);
  const two = route({ path_prefixes: ['/api', '/oauth'], strip_path_prefix: false });
  assert.deepEqual(two?.path_prefix, ['/api', '/oauth']);
  assert.equal(two?.strip_path_prefix, false);
  const none = route({});
  assert.equal(none && 'path_prefix' in none, false);
  assert.equal(none && 'strip_path_prefix' in none, false);
  const limited = route({ buffering: { max_request_body: 10 }, logging: { request_headers: ['User-Agent'] } });
  assert.deepEqual(limited?.buffering, { max_request_body: 10, requests: true, responses: true });
  assert.deepEqual(limited?.logging, { request_headers: ['User-Agent'] });
});

test('a change of prefixes, stripping, limits or log headers is a difference', () => {
  const a = { service: 'a', hosts: ['x.test'], target: '10.0.0.1:80' };
  for (const other of [
    { ...a, path_prefix: '/api' },
    { ...a, strip_path_prefix: true },
    { ...a, buffering: { max_request_body: 1 } },
    { ...a, buffering: { max_response_body: 1 } },
    { ...a, buffering: { requests: true } },
    { ...a, buffering: { responses: true } },
    { ...a, buffering: { memory: 100 } },
    { ...a, logging: { request_headers: ['X'] } },
    { ...a, logging: { response_headers: ['X'] } },
  ]) {
    assert.ok(!sameRoutes([a], [other]), JSON.stringify(other));
  }
  assert.ok(!sameRoutes([{ ...a, path_prefix: ['/a', '/b'] }], [{ ...a, path_prefix: ['/a'] }]));
  assert.ok(sameRoutes([{ ...a, buffering: { max_request_body: 0 } }], [a]), '0 is no limit');
});

test('manifest path prefixes: dot segments, empty segments, queries and fragments are refused', () => {
  for (const bad of ['api', '/a/../b', '/a/./b', '/a//b', '/a?b', '/a#b', '/a b', '/..']) {
    assert.throws(() => parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], path_prefixes: [bad] } } } })), /path_prefixes/, bad);
  }
  parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], path_prefixes: ['/', '/api/', '/v1.2'] } } } }));
});

test("a route buffers both ways unless the manifest says not (Kamal's defaults), with the memory given", () => {
  const route = (proxy: Record<string, unknown>) =>
    routeFor(parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'], ...proxy } } } })), 'web', '10.0.0.2');
  assert.deepEqual(route({})?.buffering, { requests: true, responses: true });
  assert.deepEqual(route({ buffering: { requests: false, memory: 0 } })?.buffering, { requests: false, responses: true, memory: 0 });
  assert.deepEqual(route({ buffering: { responses: false, memory: 4096 } })?.buffering, { requests: true, responses: false, memory: 4096 });
  assert.throws(() => route({ buffering: { memory: 2 ** 31 } }), /memory/);
});
