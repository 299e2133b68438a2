import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { proxiedRoles, routeFor, routeKey, sameRoutes, targetAddress } from '../../../agent/core/routes.js';
import { fullManifest, minimalManifest } from '../../support/manifest-fixture.js';

test('a proxied role routes its hosts to the container address and app port', () => {
  const m = parseManifestPayload(fullManifest());
  assert.deepEqual(routeFor(m, 'web', '10.210.0.7'), {
    service: 'demo@staging',
    hosts: ['demo.example.com', '*.demo.example.com'],
    target: '10.210.0.7:3000',
    response_timeout: 30,
  });
  assert.deepEqual(routeKey(m, 'web'), { service: 'demo', destination: 'staging' });
});

test('a role without proxy has no route', () => {
  const m = parseManifestPayload(fullManifest());
  assert.equal(routeFor(m, 'worker', '10.210.0.8'), undefined);
  assert.deepEqual(proxiedRoles(m), ['web']);
});

test('defaults: port 80, no destination, no response timeout', () => {
  const m = parseManifestPayload(minimalManifest({ roles: { web: { proxy: { hosts: ['a.test'] } } } }));
  assert.deepEqual(routeFor(m, 'web', '10.0.0.2'), { service: 'demo', hosts: ['a.test'], target: '10.0.0.2:80' });
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
