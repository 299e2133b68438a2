// The agent's own tag → digest lookup against the real registries of the test
// environment: the open one (a tag that moves) and the one that needs a login,
// with the login opened from its sealed form the way a deploy opens it. The
// digest is compared with what the registry's API says, read without the code
// under test; refusals are typed and never show the password.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { registryAuth } from '../../../agent/engine/registry-auth.js';
import { resolveTagDigest } from '../../../agent/registry/resolve.js';
import { RegistryError } from '../../../shared/errors.js';
import { generateIdentityKeys } from '../../../shared/keys.js';
import { seal, unseal } from '../../../shared/sealing.js';
import { MANIFEST_ACCEPT } from '../../support/docker-cli.js';
import { testEnv } from '../../support/env.js';
import { storedPayload } from '../../support/manifest-fixture.js';
import { retag, splitRef } from '../../support/registry.js';

const env = testEnv();
const reg = env.authRegistry;
const WRONG_PASSWORD = `wrong-${reg.password.slice(0, 6)}-Zk40`;
const basic = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');

/** The digest of a tag, straight from the registry's API. */
async function registryDigest(address: string, repo: string, tag: string, login?: { username: string; password: string }): Promise<string> {
  const res = await fetch(`http://${address}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: MANIFEST_ACCEPT, ...(login ? { Authorization: `Basic ${basic(login.username, login.password)}` } : {}) },
  });
  assert.equal(res.status, 200);
  return res.headers.get('docker-content-digest') ?? '';
}

function rejectsTyped(p: Promise<unknown>, code: string, status: number, message: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.answer.status, status, e.message);
    assert.match(e.message, message);
    const text = `${e.message} ${e.hint ?? ''}`;
    for (const secret of [reg.password, WRONG_PASSWORD, basic(reg.username, reg.password), basic(reg.username, WRONG_PASSWORD)]) {
      assert.ok(!text.includes(secret), `the error shows a password: ${text}`);
    }
    return true;
  });
}

describe('agent: tag → digest in the open registry', () => {
  const { repo } = splitRef(env.images.v1);
  // The image as a stored manifest names it: pinned by some digest, which the lookup ignores.
  const image = `${env.registry}/${repo}@sha256:${'0'.repeat(64)}`;

  test('a tag that moves resolves to its new digest', async () => {
    const tag = `resolve-${randomBytes(4).toString('hex')}`;
    const first = await retag(env.registry, repo, 'v1', tag);
    assert.deepEqual(await resolveTagDigest({ image, tag }), { digest: first });
    const moved = await retag(env.registry, repo, 'v2', tag);
    assert.notEqual(moved, first);
    assert.deepEqual(await resolveTagDigest({ image, tag }), { digest: moved });
    assert.equal(moved, await registryDigest(env.registry, repo, tag));
  });

  test('an unknown tag is a typed not-found', async () => {
    await rejectsTyped(resolveTagDigest({ image, tag: 'no-such-tag' }), 'image_not_found', 404, /not found in registry .*repository or tag not found/);
  });

  test('an unreachable registry is a typed failure with no answer', async () => {
    await rejectsTyped(resolveTagDigest({ image: '127.0.0.1:1/x/y', tag: 'v1', timeoutMs: 5000 }), 'upstream_failed', 0, /^cannot reach registry 127\.0\.0\.1:1/);
  });
});

describe('agent: tag → digest in the registry that needs a login', () => {
  const image = `${reg.address}/berth-test/web@sha256:${'0'.repeat(64)}`;

  test('the sealed login, opened as a deploy opens it, resolves the digest the registry holds', async () => {
    const keys = await generateIdentityKeys();
    const m = storedPayload({ image: `${reg.address}/berth-test/web@sha256:${'a'.repeat(64)}` });
    const sealed = await seal(reg.password, keys.sealing.publicJwk, { use: 'registry-password', service: m.service, destination: m.destination, server: reg.address });
    const auth = await registryAuth({ ...m, registry: { server: reg.address, username: reg.username, password: sealed } }, keys.sealing.privateJwk, unseal);
    assert.ok(auth);
    const login = { username: auth.username, password: auth.password };
    for (const tag of ['v1', 'v2']) {
      assert.deepEqual(await resolveTagDigest({ image, tag, credentials: login }), { digest: await registryDigest(reg.address, 'berth-test/web', tag, login) });
    }
  });

  test('a wrong password is a typed credentials error without the password', async () => {
    await rejectsTyped(
      resolveTagDigest({ image, tag: 'v1', credentials: { username: reg.username, password: WRONG_PASSWORD } }),
      'registry_credentials_rejected',
      401,
      new RegExp(`^registry ${reg.address}: credentials rejected for user ${reg.username} `),
    );
  });

  test('no login is a typed credentials-required error', async () => {
    await rejectsTyped(resolveTagDigest({ image, tag: 'v1' }), 'registry_credentials_required', 401, /requires credentials for berth-test\/web/);
  });

  test('an unknown tag with the right login is a typed not-found', async () => {
    await rejectsTyped(resolveTagDigest({ image, tag: 'no-such-tag', credentials: { username: reg.username, password: reg.password } }), 'image_not_found', 404, /no-such-tag not found/);
  });
});
