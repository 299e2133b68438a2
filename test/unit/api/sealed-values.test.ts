// POST /v1/releases opens every sealed value before anything is stored: each
// must be sealed to this agent for exactly its use, and an unbound one (older
// CLIs) is taken only when the agent already stored that very ciphertext for
// the same use of the same service (a rollback to a pre-upgrade release).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateIdentityKeys } from '../../../shared/keys.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { seal } from '../../../shared/sealing.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { sealUnbound } from '../../support/legacy-seal.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;

before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
});
after(() => f.cleanup());

const web = (secret: Record<string, string>) => ({ web: { env: { clear: {}, secret } } });

async function refused(manifest: string, status: number, code: string, message: RegExp): Promise<void> {
  const before = JSON.stringify(f.store.dump());
  const err = await errorOf(await f.postRelease(manifest));
  assert.deepEqual([err.status, err.code], [status, code], err.message);
  assert.match(err.message, message);
  assert.equal(JSON.stringify(f.store.dump()), before, 'nothing stored');
  assert.deepEqual(f.runs, []);
}

/** Stores a release as an agent before bound sealing would have, without the API's checks. */
function storeDirectly(over: Record<string, unknown>): void {
  const payload = parseManifestPayload(f.manifestPayload(over));
  const deploy = f.store.acceptRelease({ payload, jws: 'x.y.z', keyId: f.keyA.kid });
  moveDeploy(f.store, deploy.id, 'DONE');
}

describe('sealed values on POST /v1/releases', () => {
  it('refuses a value sealed by an older CLI (no binding), naming the use and the fix', async () => {
    const old = await sealUnbound('v', f.identity.sealingPublicJwk);
    await refused(await f.manifest({ roles: web({ TOKEN: old }) }), 400, 'seal_unbound', /env TOKEN of role web of service demo .*older deploy CLI/);
  });

  it('refuses a value sealed to another agent, before anything is stored', async () => {
    const other = await generateIdentityKeys();
    const sealed = await seal('v', other.sealing.publicJwk, { use: 'env', service: 'demo', destination: '', role: 'web', name: 'TOKEN' });
    await refused(await f.manifest({ roles: web({ TOKEN: sealed }) }), 400, 'unseal_failed', /env TOKEN of role web of service demo .* could not be unsealed/);
  });

  it('refuses a registry password sealed for another registry or purpose', async () => {
    const image = `127.0.0.1:5000/demo@sha256:${'a'.repeat(64)}`;
    const forOther = await seal('pw', f.identity.sealingPublicJwk, { use: 'registry-password', service: 'demo', destination: '', server: 'ghcr.io' });
    await refused(
      await f.manifest({ image, registry: { server: '127.0.0.1:5000', username: 'u', password: forOther } }),
      400, 'seal_mismatch', /password of registry 127\.0\.0\.1:5000 .* was sealed for the password of registry ghcr\.io/,
    );
    const envValue = await f.seal('pw', 'TOKEN');
    await refused(await f.manifest({ image, registry: { server: '127.0.0.1:5000', username: 'u', password: envValue } }), 400, 'seal_mismatch', /was sealed for env TOKEN/);
  });

  it('refuses a webhook secret sealed for another source, service or use', async () => {
    const key = f.identity.sealingPublicJwk;
    const forSource = (source: string, service = 'hooks') => seal('k', key, { use: 'webhook-secret', service, destination: '', source });
    const policy = (secret: string) => ({ service: 'hooks', sub: 'hooks', auto_deploy: { tag: 'main', sources: [{ name: 'github' as const, secret }] } });
    await refused(await f.manifest(policy(await forSource('generic'))), 400, 'seal_mismatch', /the github webhook secret of service hooks .* was sealed for the generic webhook secret/);
    await refused(await f.manifest(policy(await forSource('github', 'other'))), 400, 'seal_mismatch', /was sealed for the github webhook secret of service other/);
    await refused(await f.manifest(policy(await f.seal('k', 'TOKEN', { service: 'hooks' }))), 400, 'seal_mismatch', /was sealed for env TOKEN/);
    await refused(await f.manifest(policy(await sealUnbound('k', key))), 400, 'seal_unbound', /the github webhook secret of service hooks/);
  });

  it('accepts an unbound value already stored for the same use of the same service (rollback to a pre-upgrade release), and only there', async () => {
    const old = await sealUnbound('v', f.identity.sealingPublicJwk);
    storeDirectly({ service: 'legacy', sub: 'legacy', version: 'old1', roles: web({ TOKEN: old }) });
    await refused(await f.manifest({ service: 'other', sub: 'other', roles: web({ TOKEN: old }) }), 400, 'seal_unbound', /service other/);
    await refused(await f.manifest({ service: 'legacy', sub: 'legacy', roles: web({ RENAMED: old }) }), 400, 'seal_unbound', /env RENAMED/);
    await refused(await f.manifest({ service: 'legacy', sub: 'legacy@eu', destination: 'eu', roles: web({ TOKEN: old }) }), 400, 'seal_unbound', /destination "eu"/);
    const res = await f.postRelease(await f.manifest({ service: 'legacy', sub: 'legacy', version: 'old1', roles: web({ TOKEN: old }) }));
    assert.equal(res.status, 202, await res.clone().text());
  });

  it('accepts values bound to their use', async () => {
    const res = await f.postRelease(await f.manifest({ service: 'bound', sub: 'bound', roles: web({ TOKEN: await f.seal('v', 'TOKEN', { service: 'bound' }) }) }));
    assert.equal(res.status, 202, await res.clone().text());
    const secret = await seal('k', f.identity.sealingPublicJwk, { use: 'webhook-secret', service: 'hooked', destination: '', source: 'github' });
    const hooked = await f.postRelease(await f.manifest({ service: 'hooked', sub: 'hooked', auto_deploy: { tag: 'main', sources: [{ name: 'github', secret }] } }));
    assert.equal(hooked.status, 202, await hooked.clone().text());
  });
});
