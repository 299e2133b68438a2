// The manifest's optional registry login: strict, sealed, and only for the
// registry the image is pulled from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { imageRegistry, parseManifestPayload, sameRegistry } from '../../../shared/manifest.js';
import { FEATURES } from '../../../shared/version.js';
import { DIGEST, minimalManifest } from '../../support/manifest-fixture.js';

const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
const login = (over: Record<string, unknown> = {}) => ({ server: 'registry.example.com:5000', username: 'deployer', password: SEALED, ...over });

function refused(input: unknown, message: RegExp): void {
  assert.throws(
    () => parseManifestPayload(input),
    (e: unknown) => e instanceof UserError && message.test(e.message),
  );
}

describe('manifest registry login', () => {
  it('is optional, and kept as sent when present', () => {
    assert.equal(parseManifestPayload(minimalManifest()).registry, undefined);
    assert.deepEqual(parseManifestPayload(minimalManifest({ registry: login() })).registry, login());
  });

  it('takes only a sealed password; a clear one is refused', () => {
    refused(minimalManifest({ registry: login({ password: 'hunter2' }) }), /^registry\.password: must be a sealed value/);
    refused(minimalManifest({ registry: login({ password: undefined }) }), /^registry\.password: required/);
  });

  it('refuses unknown fields, bad servers and bad usernames; a good login is the control', () => {
    refused(minimalManifest({ registry: { ...login(), email: 'x@example.com' } }), /^registry\.email: unknown field/);
    for (const server of ['https://registry.example.com', 'registry.example.com/v2', '', 'a b', 'x'.repeat(256)]) {
      refused(minimalManifest({ registry: login({ server }) }), /^registry\.server: /);
    }
    for (const username of ['', 'a:b', 'line\nbreak', 'x'.repeat(257)]) {
      refused(minimalManifest({ registry: login({ username }) }), /^registry\.username: /);
    }
    refused(minimalManifest({ registry: 'registry.example.com' }), /^registry: /);
    assert.ok(parseManifestPayload(minimalManifest({ registry: login({ username: 'robot$acme+ci@example.com' }) })).registry);
  });

  it('is only for the registry the image is pulled from', () => {
    refused(minimalManifest({ registry: login({ server: 'ghcr.io' }) }), /^registry\.server: must be the registry the image is pulled from \("registry\.example\.com:5000"\)/);
    refused(minimalManifest({ registry: login({ server: 'registry.example.com' }) }), /must be the registry the image is pulled from/);
    // Docker Hub images name no host; any of Docker Hub's names will do.
    for (const server of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      assert.ok(parseManifestPayload(minimalManifest({ image: `acme/web@${DIGEST}`, registry: login({ server }) })).registry);
    }
    refused(minimalManifest({ image: `acme/web@${DIGEST}`, registry: login({ server: 'ghcr.io' }) }), /must be the registry the image is pulled from \("docker\.io"\)/);
    assert.ok(parseManifestPayload(minimalManifest({ registry: login({ server: 'REGISTRY.example.com:5000' }) })).registry);
  });

  it('reads registries off image references as Docker does', () => {
    assert.equal(imageRegistry(`nginx@${DIGEST}`), 'docker.io');
    assert.equal(imageRegistry(`acme/web@${DIGEST}`), 'docker.io');
    assert.equal(imageRegistry(`localhost/web@${DIGEST}`), 'localhost');
    assert.equal(imageRegistry(`127.0.0.1:5000/a/b@${DIGEST}`), '127.0.0.1:5000');
    assert.equal(imageRegistry(`ghcr.io/acme/web@${DIGEST}`), 'ghcr.io');
    assert.ok(sameRegistry('docker.io', 'registry-1.docker.io'));
    assert.ok(!sameRegistry('ghcr.io', 'docker.io'));
  });

  it('is advertised as a feature, so a CLI can tell whether an agent takes it', () => {
    assert.ok(FEATURES.includes('registry.auth.v1'));
  });
});
