import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { isDigestReference, manifestSubject, parseManifestPayload } from '../../../shared/manifest.js';
import { DIGEST, fullManifest, minimalManifest } from '../../support/manifest-fixture.js';

function refused(input: unknown, message: RegExp): void {
  assert.throws(
    () => parseManifestPayload(input),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
      assert.equal(e.code, 'invalid_input');
      assert.equal(e.status, 400);
      assert.match(e.message, message);
      return true;
    },
  );
}

function withRole(role: Record<string, unknown>): Record<string, unknown> {
  return minimalManifest({ roles: { web: role } });
}

function withProxy(proxy: Record<string, unknown>): Record<string, unknown> {
  return withRole({ proxy: { hosts: ['demo.example.com'], ...proxy } });
}

describe('manifest schema', () => {
  it('accepts a minimal manifest and fills every default', () => {
    const m = parseManifestPayload(minimalManifest());
    assert.equal(m.deploy_timeout, 30);
    assert.equal(m.drain_timeout, 30);
    assert.equal(m.readiness_delay, 7);
    assert.equal(m.stop_timeout, 10);
    assert.equal(m.retain_containers, 5);
    assert.deepEqual(m.roles.web, { env: { clear: {}, secret: {} } });
  });

  it('accepts a full manifest unchanged', () => {
    const input = fullManifest();
    assert.deepEqual(parseManifestPayload(input), input);
  });

  it('fills proxy defaults', () => {
    const m = parseManifestPayload(withProxy({}));
    assert.deepEqual(m.roles.web?.proxy, {
      hosts: ['demo.example.com'],
      app_port: 80,
      healthcheck: { path: '/up', interval: 1, timeout: 5 },
    });
  });

  it('refuses a payload that is not an object', () => {
    refused(null, /expected object/);
    refused([], /expected object/);
  });

  it('names the path of a wrong type', () => {
    refused(withProxy({ app_port: '80' }), /^roles\.web\.proxy\.app_port: expected number/);
    refused(minimalManifest({ seq: '5' }), /^seq: expected number/);
    refused(withRole({ cmd: 'bin/server' }), /^roles\.web\.cmd: expected array/);
    refused(withRole({ env: { clear: { A: 1 } } }), /^roles\.web\.env\.clear\.A: expected string/);
    refused(withProxy({ healthcheck: { interval: '1' } }), /^roles\.web\.proxy\.healthcheck\.interval: expected number/);
  });

  it('names a missing field', () => {
    const { version: _omitted, ...rest } = minimalManifest();
    refused(rest, /^version: required/);
    refused(withRole({ proxy: {} }), /^roles\.web\.proxy\.hosts: required/);
  });

  it('refuses unknown fields at every level', () => {
    refused(minimalManifest({ privileged: true }), /^privileged: unknown field/);
    refused(withRole({ privileged: true }), /^roles\.web\.privileged: unknown field/);
    refused(withRole({ env: { clear: {}, secret: {}, extra: {} } }), /^roles\.web\.env\.extra: unknown field/);
    refused(withProxy({ tls: true }), /^roles\.web\.proxy\.tls: unknown field/);
    refused(withProxy({ ssl: false }), /^roles\.web\.proxy\.ssl/);
    refused(withProxy({ ssl: { certificate_pem: '-----BEGIN CERTIFICATE-----', private_key_pem: 'x' } }), /^roles\.web\.proxy\.ssl/);
    refused(withProxy({ healthcheck: { path: '/up', cmd: 'x' } }), /^roles\.web\.proxy\.healthcheck\.cmd: unknown field/);
  });

  it('refuses a tag instead of a digest, naming the image', () => {
    refused(minimalManifest({ image: 'demo:latest' }), /^image must be pinned by digest \(repo@sha256:\.\.\.\), got "demo:latest"$/);
    refused(minimalManifest({ image: `demo@sha256:${'a'.repeat(63)}` }), /image must be pinned by digest/);
    refused(minimalManifest({ image: `Demo@${DIGEST}` }), /image must be pinned by digest/);
    assert.equal(parseManifestPayload(minimalManifest({ image: `demo@${DIGEST}` })).image, `demo@${DIGEST}`);
    assert.equal(parseManifestPayload(minimalManifest({ image: `localhost:5000/a/b_c@${DIGEST}` })).image, `localhost:5000/a/b_c@${DIGEST}`);
  });

  it('isDigestReference', () => {
    assert.equal(isDigestReference(`ghcr.io/org/app@${DIGEST}`), true);
    assert.equal(isDigestReference('ghcr.io/org/app:1.0'), false);
    assert.equal(isDigestReference(`ghcr.io/org/app:1.0@${DIGEST}x`), false);
  });

  it('refuses bad service, destination, role and version names', () => {
    refused(minimalManifest({ service: 'Demo', sub: 'Demo' }), /^service: must be 1-63/);
    refused(minimalManifest({ service: '-demo', sub: '-demo' }), /^service: /);
    refused(minimalManifest({ service: 'a'.repeat(64), sub: 'a'.repeat(64) }), /^service: /);
    refused(minimalManifest({ destination: 'Prod', sub: 'demo@Prod' }), /^destination: must be "" or a name/);
    refused(minimalManifest({ roles: { 'Web!': {} } }), /^roles\.Web!: invalid key: role names must be/);
    refused(minimalManifest({ version: '../etc' }), /^version: must be 1-128/);
    assert.equal(parseManifestPayload(minimalManifest({ service: 'a'.repeat(63), sub: 'a'.repeat(63) })).service, 'a'.repeat(63));
  });

  it('refuses empty roles', () => {
    refused(minimalManifest({ roles: {} }), /^roles: at least one role is required/);
  });

  it('refuses negative, fractional and oversized numbers', () => {
    refused(minimalManifest({ seq: 0 }), /^seq: /);
    refused(minimalManifest({ seq: -1 }), /^seq: /);
    refused(minimalManifest({ seq: 1.5 }), /^seq: expected int/);
    refused(minimalManifest({ seq: 2 ** 53 }), /^seq: /);
    refused(minimalManifest({ deploy_timeout: -5 }), /^deploy_timeout: /);
    refused(minimalManifest({ retain_containers: 1000 }), /^retain_containers: /);
    refused(withProxy({ app_port: 0 }), /^roles\.web\.proxy\.app_port: /);
    refused(withProxy({ app_port: 65536 }), /^roles\.web\.proxy\.app_port: /);
    refused(withProxy({ healthcheck: { timeout: 10_000 } }), /^roles\.web\.proxy\.healthcheck\.timeout: /);
    assert.equal(parseManifestPayload(minimalManifest({ seq: Number.MAX_SAFE_INTEGER })).seq, Number.MAX_SAFE_INTEGER);
  });

  it('refuses a sub that does not match service and destination', () => {
    refused(minimalManifest({ sub: 'other' }), /^sub: must be "demo"/);
    refused(minimalManifest({ destination: 'staging' }), /^sub: must be "demo@staging"/);
    assert.equal(parseManifestPayload(minimalManifest({ destination: 'staging', sub: 'demo@staging' })).sub, 'demo@staging');
    assert.equal(manifestSubject('demo', ''), 'demo');
    assert.equal(manifestSubject('demo', 'eu'), 'demo@eu');
  });

  it('refuses proxy hosts that are missing or not host names', () => {
    refused(withProxy({ hosts: [] }), /^roles\.web\.proxy\.hosts: /);
    refused(withProxy({ hosts: ['demo.example.com/evil'] }), /^roles\.web\.proxy\.hosts\[0\]: must be a host name/);
    // A wildcard over a whole TLD would let one service take every name under it.
    refused(withProxy({ hosts: ['*.com'] }), /^roles\.web\.proxy\.hosts\[0\]: must be a host name/);
    assert.deepEqual(parseManifestPayload(withProxy({ hosts: ['*.example.com'] })).roles.web?.proxy?.hosts, ['*.example.com']);
  });

  it('refuses unsealed secrets and a name set both clear and secret', () => {
    refused(withRole({ env: { secret: { DB_PASSWORD: 'hunter2' } } }), /^roles\.web\.env\.secret\.DB_PASSWORD: must be a sealed value/);
    const sealed = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
    refused(withRole({ env: { clear: { A: 'x' }, secret: { A: sealed } } }), /^roles\.web\.env\.secret\.A: is also set in env\.clear/);
    // Dashes inside a name are Docker's and Kamal's (server.http.listen-addr); a leading one is not a name.
    refused(withRole({ env: { clear: { '-BAD-NAME': 'x' } } }), /^roles\.web\.env\.clear\.-BAD-NAME: invalid key/);
    refused(withRole({ env: { clear: { 'a=b': 'x' } } }), /^roles\.web\.env\.clear\.a=b: invalid key/);
  });

  it('does not echo secret values in errors', () => {
    assert.throws(
      () => parseManifestPayload(withRole({ env: { secret: { DB_PASSWORD: 'hunter2-very-secret' } } })),
      (e: unknown) => e instanceof UserError && !e.message.includes('hunter2'),
    );
  });

  it('refuses labels in the reserved berth. namespace', () => {
    refused(withRole({ labels: { 'berth.service': 'other' } }), /^roles\.web\.labels\.berth\.service: invalid key: the berth\. label prefix is reserved/);
    assert.deepEqual(parseManifestPayload(withRole({ labels: { team: 'a' } })).roles.web?.labels, { team: 'a' });
  });

  it('refuses a wrong apiVersion', () => {
    refused(minimalManifest({ apiVersion: 'berth/v2' }), /^apiVersion: /);
  });
});
