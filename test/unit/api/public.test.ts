import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyIdentity } from '../../../shared/identity.js';
import { BERTH_VERSION, FEATURES } from '../../../shared/version.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
});
after(() => f.cleanup());

describe('public endpoints', () => {
  it('GET /v1/health answers without auth', async () => {
    const res = await f.request('GET', '/v1/health', { authorization: null });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, version: BERTH_VERSION });
  });

  it('GET /v1/identity returns a self-signed document binding id, sealing key and TLS fingerprint', async () => {
    const res = await f.request('GET', '/v1/identity', { authorization: null });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.agent_id, f.identity.agentId);
    assert.equal(body.tls_fingerprint, f.identity.tlsFingerprint);
    assert.deepEqual(body.sealing_jwk, f.identity.sealingPublicJwk);
    assert.deepEqual(body.features, [...FEATURES]);
    const claims = await verifyIdentity(body.document as string);
    assert.equal(claims.agent_id, f.identity.agentId);
    assert.equal(claims.tls_fingerprint, f.identity.tlsFingerprint);
    assert.deepEqual(claims.sealing_jwk, f.identity.sealingPublicJwk);
    assert.equal(JSON.stringify(body).includes('"d"'), false, 'no private key member leaks');
  });

  it('unknown paths answer 404 JSON', async () => {
    const res = await f.request('GET', '/v1/nope', { authorization: null });
    assert.deepEqual(await errorOf(res), { status: 404, code: 'not_found', message: 'no route for GET /v1/nope' });
  });
});

describe('fail closed: no trusted keys', () => {
  const endpoints: Array<[string, string]> = [
    ['POST', '/v1/releases'],
    ['GET', '/v1/deploys/1'],
    ['GET', '/v1/deploys/1/events'],
    ['GET', '/v1/services'],
    ['GET', '/v1/services/demo'],
  ];
  for (const [method, path] of endpoints) {
    it(`${method} ${path} → 401 no_trusted_keys, even with a well-signed token`, async () => {
      const before = f.store.dump();
      const body = method === 'POST' ? JSON.stringify({ manifest: await f.manifest() }) : '';
      const res = await f.request(method, path, { body });
      const err = await errorOf(res);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'no_trusted_keys');
      assert.match(err.message, /trusts no keys/);
      assert.deepEqual(f.store.dump(), before);
    });
  }

  it('logs why it refused', () => {
    assert.ok(f.logLines.some((l) => /warn refused an authenticated request: this agent trusts no keys/.test(l)), f.logLines.join('\n'));
  });

  it('positive control: once a key is trusted the same request succeeds', async () => {
    f.trust(f.keyA, 'read');
    const res = await f.request('GET', '/v1/services');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { services: [] });
  });
});
