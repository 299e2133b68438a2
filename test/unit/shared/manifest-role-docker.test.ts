// Role Docker settings in the manifest: optional, strict, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { FEATURES } from '../../../shared/version.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const withWeb = (web: Record<string, unknown>) => minimalManifest({ roles: { web } });

test('volumes, logging and options are accepted and kept as written', () => {
  const m = parseManifestPayload(
    withWeb({
      volumes: ['/data/storage:/rails/storage', 'cache:/cache:ro'],
      logging: { driver: 'syslog', options: { 'syslog-address': 'udp://127.0.0.1:514', tag: 'web' } },
      options: { memory: '2GB', cpus: 4, init: true, ulimit: ['nofile=1024:2048'] },
    }),
  );
  const web = m.roles.web!;
  assert.deepEqual(web.volumes, ['/data/storage:/rails/storage', 'cache:/cache:ro']);
  assert.deepEqual(web.logging, { driver: 'syslog', options: { 'syslog-address': 'udp://127.0.0.1:514', tag: 'web' } });
  assert.deepEqual(web.options, { memory: '2GB', cpus: 4, init: true, ulimit: ['nofile=1024:2048'] });
  assert.deepEqual(parseManifestPayload(withWeb({ logging: { driver: 'json-file' } })).roles.web?.logging, { driver: 'json-file', options: {} });
  assert.equal(parseManifestPayload(withWeb({})).roles.web?.options, undefined, 'all optional');
});

test('bad shapes are refused naming the field path', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ volumes: 'a:b' }, /roles\.web\.volumes: expected array/],
    [{ volumes: Array(51).fill('/data/a:/a') }, /roles\.web\.volumes: must have at most 50 items/],
    [{ volumes: ['/data/a:/a\n'] }, /roles\.web\.volumes\[0\]: must be one line/],
    [{ logging: { driver: 'json-file', options: {}, extra: 1 } }, /roles\.web\.logging\.extra: unknown field/],
    [{ logging: { driver: 'bad driver' } }, /roles\.web\.logging\.driver: must be a Docker logging driver name/],
    [{ logging: { options: {} } }, /roles\.web\.logging\.driver: required/],
    [{ options: { '--memory': '1g' } }, /roles\.web\.options\.--memory: invalid key: must be a docker run option name/],
    [{ options: { memory: { a: 1 } } }, /roles\.web\.options\.memory/],
    [{ options: { memory: 'x'.repeat(1025) } }, /roles\.web\.options\.memory/],
    [{ options: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`o${i}`, 1])) }, /roles\.web\.options: at most 64 entries/],
    [{ mounts: [] }, /roles\.web\.mounts: unknown field/],
  ];
  for (const [web, message] of cases) {
    assert.throws(() => parseManifestPayload(withWeb(web)), (e: unknown) => e instanceof UserError && message.test(e.message), JSON.stringify(web).slice(0, 80));
  }
});

test('the agent advertises the feature so a CLI knows it may send these fields', () => {
  assert.ok(FEATURES.includes('roles.docker.v1'));
});
