import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { containerName, containerSpec, specFingerprint } from '../../../agent/core/containers.js';
import { fullManifest, minimalManifest } from '../../support/manifest-fixture.js';

const ctx = { deployId: 42, hostname: 'web-1.example.com', network: 'berth' };
const SECRET = 's3cr3t-value-never-in-labels';

test('name is service-role-version, with the destination when there is one', () => {
  assert.equal(containerName('demo', 'web', '', 'abc123'), 'demo-web-abc123');
  assert.equal(containerName('demo', 'web', 'staging', 'abc123'), 'demo-web-staging-abc123');
  const spec = containerSpec(parseManifestPayload(fullManifest()), 'worker', ctx, {});
  assert.equal(spec.name, 'demo-worker-staging-abc123');
});

test('labels identify the release; user labels kept; secrets never in labels', () => {
  const m = parseManifestPayload(fullManifest());
  const spec = containerSpec(m, 'web', ctx, { DB_PASSWORD: SECRET });
  assert.deepEqual(
    Object.fromEntries(Object.entries(spec.labels).filter(([k]) => k !== 'berth.spec')),
    {
      'com.example.team': 'web',
      'berth.service': 'demo',
      'berth.role': 'web',
      'berth.release': 'abc123',
      'berth.destination': 'staging',
      'berth.kind': 'app',
      'berth.deploy': '42',
      'berth.seq': '1',
    },
  );
  assert.match(spec.labels['berth.spec'] ?? '', /^[0-9a-f]{32}$/);
  assert.ok(!JSON.stringify(spec.labels).includes(SECRET));
  assert.ok(!JSON.stringify(spec.labels).includes('eyJhbGciOiJFQ0RILUVTIn0'), 'not even the sealed value');
});

test('env: clear, unsealed secrets, then BERTH_* and KAMAL_* which cannot be overridden', () => {
  const m = parseManifestPayload(
    fullManifest({
      roles: {
        web: {
          env: { clear: { RAILS_ENV: 'production', BERTH_ROLE: 'spoofed' }, secret: { DB_PASSWORD: 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn' } },
          proxy: { hosts: ['demo.example.com'] },
        },
      },
    }),
  );
  const spec = containerSpec(m, 'web', ctx, { DB_PASSWORD: SECRET });
  assert.deepEqual(spec.env, {
    RAILS_ENV: 'production',
    DB_PASSWORD: SECRET,
    BERTH_SERVICE: 'demo',
    BERTH_ROLE: 'web',
    BERTH_RELEASE: 'abc123',
    BERTH_HOST: 'web-1.example.com',
    BERTH_DESTINATION: 'staging',
    KAMAL_VERSION: 'abc123',
    KAMAL_HOST: 'web-1.example.com',
    KAMAL_CONTAINER_NAME: 'demo-web-staging-abc123',
    KAMAL_DESTINATION: 'staging',
  });
});

test('restart policy, network, image and cmd', () => {
  const m = parseManifestPayload(fullManifest());
  const web = containerSpec(m, 'web', ctx, {});
  assert.equal(web.restartPolicy, 'unless-stopped');
  assert.equal(web.network, 'berth');
  assert.equal(web.image, m.image);
  assert.deepEqual(web.cmd, ['bin/server', '--port', '3000']);
  const minimal = containerSpec(parseManifestPayload(minimalManifest()), 'web', ctx, {});
  assert.equal(minimal.cmd, undefined, 'no cmd: the image default runs');
  assert.equal(minimal.env.BERTH_DESTINATION, '');
});

test('an unknown role is refused; a known one is a positive control', () => {
  const m = parseManifestPayload(minimalManifest());
  assert.throws(() => containerSpec(m, 'nope', ctx, {}), /role nope is not in the manifest/);
  assert.throws(() => containerSpec(m, '__proto__', ctx, {}), /role __proto__ is not in the manifest/);
  assert.equal(containerSpec(m, 'web', ctx, {}).name, 'demo-web-abc123');
});

test('spec fingerprint changes with env or image, not with seq or deploy id', () => {
  const base = parseManifestPayload(fullManifest());
  const fp = specFingerprint(base, 'web');
  assert.equal(specFingerprint(parseManifestPayload(fullManifest({ seq: 99, jti: 'zyxwvutsrqponmlkjihgfe' })), 'web'), fp);
  const otherImage = parseManifestPayload(fullManifest({ image: `registry.example.com:5000/team/demo@sha256:${'b'.repeat(64)}` }));
  assert.notEqual(specFingerprint(otherImage, 'web'), fp);
  const otherEnv = parseManifestPayload(
    fullManifest({ roles: { web: { env: { clear: { RAILS_ENV: 'staging' } }, proxy: { hosts: ['demo.example.com'] } } } }),
  );
  assert.notEqual(specFingerprint(otherEnv, 'web'), fp);
});
