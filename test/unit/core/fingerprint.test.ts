// berth.spec: equal plaintext gives an equal fingerprint on one agent, even
// though every seal differs; the label reveals nothing about the values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentityKeys } from '../../../shared/keys.js';
import { parseManifestPayload, type ManifestPayload } from '../../../shared/manifest.js';
import { seal, unseal, type SealBinding } from '../../../shared/sealing.js';
import type { JWK } from '../../../shared/api-types.js';
import { openRoleSecrets, roleFingerprints } from '../../../agent/engine/role-secrets.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const DB_PASSWORD: SealBinding = { use: 'env', service: 'demo', destination: '', role: 'web', name: 'DB_PASSWORD' };

async function fingerprint(m: ManifestPayload, key: JWK): Promise<string> {
  return roleFingerprints(m, await openRoleSecrets(m, key, unseal), key).web ?? '';
}

test('same plaintext sealed twice: same fingerprint; different plaintext: different', async () => {
  const { sealing } = await generateIdentityKeys();
  const withSecret = async (value: string, web: Record<string, unknown> = {}) =>
    parseManifestPayload(minimalManifest({ roles: { web: { env: { secret: { DB_PASSWORD: await seal(value, sealing.publicJwk, DB_PASSWORD) } }, ...web } } }));
  const a = await withSecret('hunter2');
  const b = await withSecret('hunter2');
  assert.notEqual(a.roles.web?.env.secret.DB_PASSWORD, b.roles.web?.env.secret.DB_PASSWORD, 'each seal differs');
  const fa = await fingerprint(a, sealing.privateJwk);
  assert.match(fa, /^[0-9a-f]{32}$/);
  assert.equal(await fingerprint(b, sealing.privateJwk), fa);
  assert.notEqual(await fingerprint(await withSecret('hunter3'), sealing.privateJwk), fa);
  // Another agent's key: unrelated fingerprint for the same values.
  const other = await generateIdentityKeys();
  const forOther = parseManifestPayload(minimalManifest({ roles: { web: { env: { secret: { DB_PASSWORD: await seal('hunter2', other.sealing.publicJwk, DB_PASSWORD) } } } } }));
  assert.notEqual(await fingerprint(forOther, other.sealing.privateJwk), fa);
});

test('image, env, volumes, logging and options change it; seq and jti do not', async () => {
  const { sealing } = await generateIdentityKeys();
  const base = { volumes: ['/data/a:/a'], logging: { driver: 'json-file', options: { 'max-size': '5m' } }, options: { memory: '1g' } };
  const fp = (over: Record<string, unknown> = {}, web: Record<string, unknown> = {}) =>
    fingerprint(parseManifestPayload(minimalManifest({ roles: { web: { ...base, ...web } }, ...over })), sealing.privateJwk);
  const reference = await fp();
  assert.equal(await fp({ seq: 99, jti: 'zyxwvutsrqponmlkjihgfe' }), reference);
  assert.equal(await fp({}, { options: { memory: '1g' }, logging: { options: { 'max-size': '5m' }, driver: 'json-file' } }), reference, 'key order does not matter');
  const changes: Array<[Record<string, unknown>, Record<string, unknown>]> = [
    [{ image: `registry.example.com:5000/team/demo@sha256:${'b'.repeat(64)}` }, {}],
    [{}, { env: { clear: { A: '1' } } }],
    [{}, { volumes: ['/data/b:/a'] }],
    [{}, { logging: { driver: 'json-file', options: { 'max-size': '6m' } } }],
    [{}, { options: { memory: '2g' } }],
    [{}, { cmd: ['bin/jobs'] }],
    [{}, { labels: { team: 'x' } }],
  ];
  for (const [over, web] of changes) assert.notEqual(await fp(over, web), reference, JSON.stringify([over, web]));
});
