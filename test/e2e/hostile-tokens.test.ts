// Forged request tokens against a real agent process. Each is refused with a
// clear 4xx, and the database and the containers are exactly as before; the
// same request with an honest token (the positive control) is accepted.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testEnv } from '../support/env.js';
import { registryDigest } from '../support/docker-cli.js';
import { setupApp, type E2eApp } from '../support/e2e-app.js';
import { splitRef } from '../support/registry.js';
import { forgeJws } from '../support/jws-forge.js';
import { agentId, loadKey, rawRequest, signedRequest, type OperatorKey } from '../support/signed-client.js';
import { signManifest } from '../../shared/manifest-signing.js';
import { bodyHash } from '../../shared/request-token.js';
import { generateOperatorKey } from '../../shared/keys.js';
import { openStore } from '../../agent/store/index.js';
import type { ManifestPayload } from '../../shared/manifest.js';

let e: E2eApp;
let key: OperatorKey;
let readOnly: OperatorKey;
let stranger: OperatorKey;
let aud: string;
let digestRef: string;
let seq = 0;

before(async () => {
  e = await setupApp('tokens');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  const ro = await generateOperatorKey('reader@test');
  readOnly = { privateJwk: ro.privateJwk, kid: ro.kid };
  await e.hosts[0]!.trust(ro.line, 'read');
  const st = await generateOperatorKey('stranger@test');
  stranger = { privateJwk: st.privateJwk, kid: st.kid };
  const { registry, repo } = splitRef(testEnv().images.v1);
  digestRef = `${registry}/${repo}@${await registryDigest(registry, repo, 'v1')}`;
});

after(async () => e?.teardown());

async function manifestBody(signer: OperatorKey = key): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  seq = Math.max(Date.now(), seq + 1);
  const payload = {
    apiVersion: 'berth/v1', iss: signer.kid, aud, sub: 'tokens', iat: now, exp: now + 600,
    jti: randomBytes(16).toString('base64url'), seq, service: 'tokens', destination: '', version: `v${seq}`, image: digestRef,
    roles: { web: { env: { clear: {}, secret: {} }, proxy: { hosts: [e.hostHeader], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 5 } } } },
    deploy_timeout: 20, drain_timeout: 5, readiness_delay: 1, stop_timeout: 5, retain_containers: 5,
  } as ManifestPayload;
  return JSON.stringify({ manifest: await signManifest(payload, signer.privateJwk, signer.kid) });
}

interface Forgery {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  drop?: string[];
  signer?: OperatorKey | 'none' | { hmacSecret: Uint8Array };
  method?: string;
  path?: string;
}

function token(body: string, f: Forgery = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const signer = f.signer ?? key;
  const kid = typeof signer === 'object' && 'kid' in signer ? signer.kid : key.kid;
  const claims: Record<string, unknown> = {
    iss: kid, aud, iat: now, exp: now + 30, jti: randomBytes(16).toString('base64url'),
    htm: f.method ?? 'POST', htu: f.path ?? '/v1/releases', bh: bodyHash(body), ...f.claims,
  };
  for (const d of f.drop ?? []) delete claims[d];
  const header = { alg: 'EdDSA', typ: 'berth-request+jwt', kid, ...f.header };
  const how = signer === 'none' ? 'none' : 'hmacSecret' in signer ? signer : { ed25519: signer.privateJwk };
  return forgeJws(header, claims, how);
}

async function observe(): Promise<string> {
  const store = openStore(`${e.hosts[0]!.stateDir}/berth.db`);
  try {
    const containers = (await e.containers()).map((c) => `${c.name} ${c.state}`).sort();
    return JSON.stringify({ db: store.dump(), containers });
  } finally {
    store.close();
  }
}

const post = (body: string, authorization: string) => rawRequest(e.hosts[0]!, 'POST', '/v1/releases', body, authorization);

async function refused(t: TestContext, name: string, make: (body: string) => Promise<{ body: string; auth: string }>, status: number, message: RegExp) {
  await t.test(name, async () => {
    const before = await observe();
    const { body, auth } = await make(await manifestBody());
    const r = await post(body, auth);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.match(r.body?.error?.message ?? '', message);
    assert.equal(await observe(), before, 'nothing changed');
  });
}

test('positive control: an honest token and manifest are accepted', async () => {
  const body = await manifestBody();
  const r = await post(body, `Berth ${token(body)}`);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  // Let the deploy finish so the refusals below compare against a still world.
  let state = '';
  for (let i = 0; i < 300 && state !== 'DONE' && state !== 'REVERTED'; i++) {
    await new Promise((res) => setTimeout(res, 200));
    state = (await signedRequest(e.hosts[0]!, key, aud, 'GET', `/v1/deploys/${r.body.deploy.id}`)).body?.deploy?.state;
  }
  assert.equal(state, 'DONE');
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});

test('forged request tokens', async (t) => {
  const pub = Buffer.from(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: key.privateJwk.x }));
  const now = Math.floor(Date.now() / 1000);
  await refused(t, 'no Authorization header', async (b) => ({ body: b, auth: '' }), 401, /authorization|token/i);
  await refused(t, 'unsigned (alg none)', async (b) => ({ body: b, auth: `Berth ${token(b, { header: { alg: 'none' }, signer: 'none' })}` }), 401, /alg/i);
  await refused(t, 'tampered signature', async (b) => {
    const t = token(b);
    return { body: b, auth: `Berth ${t.slice(0, -3)}${t.endsWith('AAA') ? 'BBB' : 'AAA'}` };
  }, 401, /signature/i);
  await refused(t, 'unknown key', async (b) => ({ body: b, auth: `Berth ${token(b, { signer: stranger })}` }), 401, /unknown key|not trusted/i);
  await refused(t, 'read-only key', async (b) => ({ body: b, auth: `Berth ${token(b, { signer: readOnly })}` }), 403, /scope|deploy/i);
  await refused(t, 'HS256 with the public key as secret', async (b) => ({ body: b, auth: `Berth ${token(b, { header: { alg: 'HS256' }, signer: { hmacSecret: pub } })}` }), 401, /alg/i);
  await refused(t, 'alg Ed25519 instead of EdDSA', async (b) => ({ body: b, auth: `Berth ${token(b, { header: { alg: 'Ed25519' } })}` }), 401, /alg/i);
  await refused(t, 'wrong typ', async (b) => ({ body: b, auth: `Berth ${token(b, { header: { typ: 'berth-release+jwt' } })}` }), 401, /typ/i);
  await refused(t, 'expired', async (b) => ({ body: b, auth: `Berth ${token(b, { claims: { iat: now - 120, exp: now - 60 } })}` }), 401, /expired/i);
  await refused(t, 'exp too far ahead', async (b) => ({ body: b, auth: `Berth ${token(b, { claims: { exp: now + 3600 } })}` }), 401, /exp|ahead|too long/i);
  await refused(t, 'aud of another agent', async (b) => ({ body: b, auth: `Berth ${token(b, { claims: { aud: stranger.kid } })}` }), 401, /audience|aud/i);
  await refused(t, 'htm not matching', async (b) => ({ body: b, auth: `Berth ${token(b, { method: 'GET' })}` }), 401, /htm|method/i);
  await refused(t, 'htu not matching', async (b) => ({ body: b, auth: `Berth ${token(b, { path: '/v1/services' })}` }), 401, /htu|path/i);
  await refused(t, 'bh not matching', async (b) => ({ body: b, auth: `Berth ${token(b, { claims: { bh: bodyHash('something else') } })}` }), 401, /bh|body/i);
  await refused(t, 'missing jti', async (b) => ({ body: b, auth: `Berth ${token(b, { drop: ['jti'] })}` }), 401, /jti/i);
  await refused(t, 'malformed JSON body', async () => {
    const b = '{"manifest": ';
    return { body: b, auth: `Berth ${token(b)}` };
  }, 400, /json/i);
  await refused(t, 'unknown fields in the body', async (b) => {
    const body = JSON.stringify({ ...JSON.parse(b), privileged: true });
    return { body, auth: `Berth ${token(body)}` };
  }, 400, /privileged|unknown|unrecognized/i);
  await refused(t, 'manifest signed by another trusted key than the request', async () => {
    const body = await manifestBody(readOnly);
    return { body, auth: `Berth ${token(body)}` };
  }, 403, /sign|key/i);
});
