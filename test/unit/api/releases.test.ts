// POST /v1/releases: every way a release can be forged, replayed, malformed or
// conflicting is refused with a clear 4xx and leaves the store exactly as it was.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signCompactJws } from '../../../shared/jose.js';
import { generateOperatorKey } from '../../../shared/keys.js';
import { ApiFixture, b64, errorOf, hs256Token, publicKeyBytes, type RequestOptions } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
});
after(() => f.cleanup());

const PATH = '/v1/releases';
const nowS = () => Math.floor(Date.now() / 1000);

/** A valid release is accepted (202) and handed to the engine; then its lock is freed. */
async function control(over: Record<string, unknown> = {}): Promise<number> {
  const res = await f.postRelease(await f.manifest(over));
  assert.equal(res.status, 202, JSON.stringify(await res.clone().json()));
  const { deploy } = (await res.json()) as { deploy: { id: number; state: string } };
  assert.equal(deploy.state, 'RECEIVED');
  await new Promise((r) => setImmediate(r));
  assert.ok(f.runs.includes(deploy.id), 'engine.run was called with the deploy');
  moveDeploy(f.store, deploy.id, 'DONE');
  return deploy.id;
}

async function refused(res: Response, before: Record<string, unknown[]>, status: number, code: string, message: RegExp): Promise<void> {
  const err = await errorOf(res);
  assert.equal(err.status, status, `${err.code}: ${err.message}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
  assert.deepEqual(f.store.dump(), before, 'store changed');
}

/** Request claims as signRequest makes them, for hand-built tokens. */
function claimsFor(body: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowS();
  return {
    iss: f.keyA.kid, aud: f.identity.agentId, iat, exp: iat + 30, jti: randomBytes(16).toString('base64url'),
    htm: 'POST', htu: PATH, bh: createHash('sha256').update(body).digest('base64url'), ...over,
  };
}

async function signedWith(claims: unknown, typ = 'berth-request+jwt'): Promise<string> {
  return `Berth ${await signCompactJws(new TextEncoder().encode(JSON.stringify(claims)), { typ, kid: f.keyA.kid }, f.keyA.privateJwk)}`;
}

async function caseOf(name: string, make: (body: string) => Promise<RequestOptions>, status: number, code: string, message: RegExp, jws?: () => Promise<string>): Promise<void> {
  await it(name, async () => {
    const manifest = jws ? await jws() : await f.manifest();
    const body = JSON.stringify({ manifest });
    const before = f.store.dump();
    const res = await f.request('POST', PATH, { body, ...(await make(body)) });
    await refused(res, before, status, code, message);
    await control();
  });
}

describe('POST /v1/releases', () => {
  it('positive control: a valid signed release is accepted with 202 and runs', async () => {
    const id = await control();
    const got = f.store.getDeploy(id);
    assert.equal(got?.service, 'demo');
    assert.equal(got?.key_id, f.keyA.kid);
  });

  describe('request authentication', () => {
    caseOf('no Authorization header', async () => ({ authorization: null }), 401, 'unauthorized', /missing Authorization/);
    caseOf('another scheme', async () => ({ authorization: 'Bearer abc' }), 401, 'unauthorized', /Berth scheme/);
    caseOf('unsigned token (alg none)', async (body) => ({
      authorization: `Berth ${b64({ alg: 'none', typ: 'berth-request+jwt', kid: f.keyA.kid })}.${b64(claimsFor(body))}.`,
    }), 401, 'unauthorized', /alg/);
    caseOf('tampered signature', async (body) => {
      const t = await f.token('POST', PATH, body);
      const sig = t.split('.')[2]!;
      const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
      return { authorization: `Berth ${t.split('.').slice(0, 2).join('.')}.${flipped}` };
    }, 401, 'unauthorized', /signature/);
    caseOf('tampered claims under a valid signature', async (body) => {
      const [h, , s] = (await f.token('POST', PATH, body)).split('.');
      return { authorization: `Berth ${h}.${b64(claimsFor(body))}.${s}` };
    }, 401, 'unauthorized', /signature/);
    caseOf('unknown key', async () => ({ key: await generateOperatorKey('stranger') }), 401, 'unauthorized', /unknown key/);
    caseOf('read-only key', async () => ({ key: f.keyRead }), 403, 'forbidden', /has scope read; this needs deploy/);
    caseOf('HS256 signed with the public key', async (body) => ({
      authorization: `Berth ${hs256Token({ alg: 'HS256', typ: 'berth-request+jwt', kid: f.keyA.kid }, claimsFor(body), publicKeyBytes(f.keyA.publicJwk))}`,
    }), 401, 'unauthorized', /alg/);
    caseOf('wrong typ', async (body) => ({ authorization: await signedWith(claimsFor(body), 'berth-release+jwt') }), 401, 'unauthorized', /typ/);
    caseOf('expired', async () => ({ sign: { now: nowS() - 120 } }), 401, 'unauthorized', /expired/);
    caseOf('exp too far ahead', async (body) => ({
      authorization: await signedWith(claimsFor(body, { exp: nowS() + 600 })),
    }), 401, 'unauthorized', /too far ahead|lifetime/);
    caseOf('audience of another agent', async () => ({ sign: { aud: 'Z'.repeat(43) } }), 401, 'unauthorized', /audience/);
    caseOf('unknown claim', async (body) => ({ authorization: await signedWith(claimsFor(body, { admin: true })) }), 401, 'unauthorized', /unexpected claim/);
    caseOf('htm mismatch', async () => ({ sign: { method: 'PUT' } }), 401, 'unauthorized', /htm/);
    caseOf('htu mismatch', async () => ({ sign: { path: '/v1/releases?x=1' } }), 401, 'unauthorized', /htu/);
    caseOf('bh mismatch (body swapped after signing)', async () => ({ sign: { body: '{"manifest":"other"}' } }), 401, 'unauthorized', /bh/);
  });

  describe('replay', () => {
    it('the same request twice: the second is refused as replayed', async () => {
      const body = JSON.stringify({ manifest: await f.manifest() });
      const authorization = `Berth ${await f.token('POST', PATH, body)}`;
      const first = await f.request('POST', PATH, { body, authorization });
      assert.equal(first.status, 202);
      const { deploy } = (await first.json()) as { deploy: { id: number } };
      moveDeploy(f.store, deploy.id, 'DONE');
      const before = f.store.dump();
      await refused(await f.request('POST', PATH, { body, authorization }), before, 409, 'replayed', /request token was already used/);

      // …and still after an agent restart (the jti lives in SQLite).
      f.restart();
      const afterRestart = f.store.dump();
      await refused(await f.request('POST', PATH, { body, authorization }), afterRestart, 409, 'replayed', /already used/);
      await control();
    });

    it('an accepted manifest posted again under a fresh request token is refused as replayed', async () => {
      const jws = await f.manifest();
      const first = await f.postRelease(jws);
      assert.equal(first.status, 202);
      const { deploy } = (await first.json()) as { deploy: { id: number } };
      moveDeploy(f.store, deploy.id, 'DONE');
      const before = f.store.dump();
      await refused(await f.postRelease(jws), before, 409, 'replayed', /release manifest was already used/);
      f.restart();
      await refused(await f.postRelease(jws), f.store.dump(), 409, 'replayed', /release manifest was already used/);
      await control();
    });
  });

  describe('body and manifest', () => {
    it('oversized body → 413 before any auth is looked at when declared, after the signature when not', async () => {
      const before = f.store.dump();
      const body = JSON.stringify({ manifest: 'x'.repeat(300 * 1024) });
      const declared = { 'content-length': String(Buffer.byteLength(body)) };
      await refused(await f.request('POST', PATH, { body, authorization: null, headers: declared }), before, 413, 'payload_too_large', /larger than 262144 bytes/);
      // No declared length: an unauthenticated body is never read, a signed one is cut at the cap.
      await refused(await f.request('POST', PATH, { body, authorization: null }), before, 401, 'unauthorized', /missing Authorization/);
      await refused(await f.request('POST', PATH, { body }), before, 413, 'payload_too_large', /larger than 262144 bytes/);
      await control();
    });

    it('malformed JSON (correctly signed) → 400', async () => {
      const before = f.store.dump();
      await refused(await f.request('POST', PATH, { body: '{"manifest": ' }), before, 400, 'malformed_json', /not valid JSON/);
      await control();
    });

    it('unknown fields in the body → 400 naming them', async () => {
      const before = f.store.dump();
      const body = JSON.stringify({ manifest: await f.manifest(), force: true });
      await refused(await f.request('POST', PATH, { body }), before, 400, 'invalid_input', /force: unknown field/);
      await control();
    });

    it('unknown field inside the manifest → 400 naming it', async () => {
      const before = f.store.dump();
      const jws = await f.rawManifest({ ...f.manifestPayload(), privileged: true });
      await refused(await f.postRelease(jws), before, 400, 'invalid_input', /privileged: unknown field/);
      await control();
    });

    it('image by tag → 400', async () => {
      const before = f.store.dump();
      const jws = await f.rawManifest({ ...f.manifestPayload(), image: '127.0.0.1:5000/demo:latest' });
      await refused(await f.postRelease(jws), before, 400, 'invalid_input', /image must be pinned by digest/);
      await control();
    });

    it('manifest for another agent → 401', async () => {
      const before = f.store.dump();
      await refused(await f.postRelease(await f.manifest({ aud: 'Z'.repeat(43) })), before, 401, 'unauthorized', /manifest: audience is not this agent/);
      await control();
    });

    it('expired manifest → 401', async () => {
      const before = f.store.dump();
      const jws = await f.manifest({ iat: nowS() - 1000, exp: nowS() - 200 });
      await refused(await f.postRelease(jws), before, 401, 'unauthorized', /manifest expired/);
      await control();
    });

    it('manifest signed with another typ → 401', async () => {
      const before = f.store.dump();
      const jws = await f.rawManifest(f.manifestPayload(), f.keyA, 'berth-request+jwt');
      await refused(await f.postRelease(jws), before, 401, 'unauthorized', /typ/);
      await control();
    });

    it('manifest signed by key A but posted with key B → 403', async () => {
      const before = f.store.dump();
      const jws = await f.manifest({}, f.keyA);
      await refused(await f.postRelease(jws, { key: f.keyB }), before, 403, 'forbidden', new RegExp(`signed by key ${f.keyA.kid} but the request by key ${f.keyB.kid}`));
      // Positive control: B posting what B signed is fine.
      const ok = await f.postRelease(await f.manifest({}, f.keyB), { key: f.keyB });
      assert.equal(ok.status, 202);
      moveDeploy(f.store, ((await ok.json()) as { deploy: { id: number } }).deploy.id, 'DONE');
    });
  });

  describe('conflicts', () => {
    it('seq not above the last accepted → 409 naming both numbers', async () => {
      await control();
      const last = f.store.seq('demo', '');
      const before = f.store.dump();
      await refused(await f.postRelease(await f.manifest({ seq: last })), before, 409, 'seq_not_increasing', new RegExp(`seq ${last} is not above the last accepted seq ${last} for demo`));
      await refused(await f.postRelease(await f.manifest({ seq: 1 })), before, 409, 'seq_not_increasing', /is not above/);
      await control();
    });

    it('a seq far in the future (which would make the service undeployable) → 409', async () => {
      await control();
      const before = f.store.dump();
      await refused(await f.postRelease(await f.manifest({ seq: Number.MAX_SAFE_INTEGER })), before, 409, 'seq_too_far_ahead', /too far ahead for demo/);
      await refused(await f.postRelease(await f.manifest({ seq: Date.now() + 60 * 60 * 1000 })), before, 409, 'seq_too_far_ahead', /too far ahead/);
      await control();
    });

    it('a host another service already serves → 409 naming it; the service\'s own route is no conflict', async () => {
      await control();
      f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test'], target: '10.0.0.8:8080' });
      await control(); // its own host: fine
      f.store.routes.set('other', '', { service: 'other', hosts: ['DEMO.test'], target: '10.0.0.9:80' });
      const before = f.store.dump();
      await refused(await f.postRelease(await f.manifest()), before, 409, 'host_conflict', /host DEMO\.test is already served by other/);
      f.store.routes.set('other', '', null);
      await control();
    });

    it('a routed accessory claims its hosts like a role: another service\'s host or its own role\'s → 409, nothing stored', async () => {
      await control();
      const accessory = (host: string) => ({
        accessories: { admin: { image: `adminer@sha256:${'ab'.repeat(32)}`, proxy: { hosts: [host], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 5 } } } },
      });
      f.store.routes.set('other', '', { service: 'other', hosts: ['acc.test'], target: '10.0.0.9:80' });
      let before = f.store.dump();
      await refused(await f.postRelease(await f.manifest(accessory('acc.test'))), before, 409, 'host_conflict', /host acc\.test is already served by other/);
      f.store.routes.set('other', '', null);
      before = f.store.dump();
      await refused(await f.postRelease(await f.manifest(accessory('demo.test'))), before, 409, 'host_conflict', /routed by both (role web|accessory admin) of demo and (accessory admin|role web) of demo/);
      await control();
    });

    it('path prefixes share a host: another prefix deploys, the same host and prefix is 409 naming host, prefix and the holder', async () => {
      await control();
      const proxy = (path_prefixes?: string[]) => ({
        roles: { web: { env: { clear: {}, secret: {} }, proxy: { hosts: ['demo.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 }, ...(path_prefixes ? { path_prefixes } : {}) } } },
      });
      f.store.routes.set('other', '', { service: 'other', hosts: ['demo.test'], path_prefix: ['/docs', '/api'], target: '10.0.0.9:80' });
      await control(proxy(['/app']));
      await control(proxy()); // `/` is not `/api`: the longest prefix decides per request
      let before = f.store.dump();
      await refused(await f.postRelease(await f.manifest(proxy(['/x', '/api/']))), before, 409, 'host_conflict', /host demo\.test under path prefix \/api\/ is already served by other on this server/);
      f.store.routes.set('other', '', null);
      before = f.store.dump();
      const twoRoles = proxy(['/api']);
      (twoRoles.roles as Record<string, unknown>).api = { env: { clear: {}, secret: {} }, proxy: { hosts: ['DEMO.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 }, path_prefixes: ['/api'] } };
      await refused(await f.postRelease(await f.manifest(twoRoles)), before, 409, 'host_conflict', /host demo\.test under path prefix \/api is routed by both role (web|api) of demo and role (api|web) of demo/);
      await control();
    });

    it('a second release while the lock is held → 409 naming the holder', async () => {
      const first = await f.postRelease(await f.manifest());
      assert.equal(first.status, 202);
      const { deploy } = (await first.json()) as { deploy: { id: number; version: string } };
      const before = f.store.dump();
      await refused(
        await f.postRelease(await f.manifest()),
        before, 409, 'locked',
        new RegExp(`demo is locked by deploy ${deploy.id} \\(version ${deploy.version}, key ${f.keyA.kid}\\) since `),
      );
      moveDeploy(f.store, deploy.id, 'DONE');
      await control();
    });

    it('the same version name with another image → 409 version_conflict', async () => {
      await control();
      const used = f.store.services()[0]!.seq;
      const version = (f.store.dump().releases as Array<{ version: string; seq: number }>).find((r) => r.seq === used)!.version;
      const before = f.store.dump();
      const jws = await f.manifest({ version, image: `127.0.0.1:5000/demo@sha256:${'f'.repeat(64)}` });
      await refused(await f.postRelease(jws), before, 409, 'version_conflict', new RegExp(`version ${version} of demo was already released`));
      await control();
    });
  });
});
