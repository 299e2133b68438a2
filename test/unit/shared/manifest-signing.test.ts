import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { JWK } from '../../../shared/api-types.js';
import { AuthError, PayloadTooLargeError, UserError } from '../../../shared/errors.js';
import { generateIdentityKeys, generateOperatorKey, type OperatorKey } from '../../../shared/keys.js';
import { signManifest, verifyManifest } from '../../../shared/manifest-signing.js';
import type { ManifestInput } from '../../../shared/manifest.js';
import { forgeJws, jwsHeader, withPayload, type ForgeSigner } from '../../support/jws-forge.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const NOW = 1_700_000_000;
const TYP = 'berth-release+jwt';

let op: OperatorKey;
let stranger: OperatorKey;
let agent: string;
let otherAgent: string;

before(async () => {
  op = await generateOperatorKey();
  stranger = await generateOperatorKey();
  agent = (await generateIdentityKeys()).agentId;
  otherAgent = (await generateIdentityKeys()).agentId;
});

const lookupKey = (kid: string): JWK | undefined => (kid === op.kid ? op.publicJwk : undefined);

function payload(over: Record<string, unknown> = {}): Record<string, unknown> {
  return minimalManifest({ iss: op.kid, aud: agent, iat: NOW, exp: NOW + 300, ...over });
}

// The fixture is deliberately loosely typed so tests can break it.
function sign(p: Record<string, unknown>, kid = op.kid): Promise<string> {
  return signManifest(p as unknown as ManifestInput, op.privateJwk, kid);
}

function verify(jws: string, over: { now?: number; audience?: string } = {}) {
  return verifyManifest(jws, { lookupKey, audience: agent, now: NOW, ...over });
}

function forged(p: Record<string, unknown>, header: Record<string, unknown> = {}, signer?: ForgeSigner): string {
  return forgeJws({ alg: 'EdDSA', typ: TYP, kid: op.kid, ...header }, p, signer ?? { ed25519: op.privateJwk });
}

async function refused(p: Promise<unknown>, message: RegExp, cls: typeof AuthError | typeof UserError = AuthError): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(e.code, cls === AuthError ? 'unauthorized' : 'invalid_input');
    assert.match(e.message, message);
    return true;
  });
}

describe('release manifest signing', () => {
  it('round-trips with defaults filled in', async () => {
    const jws = await sign(payload());
    assert.deepEqual(jwsHeader(jws), { alg: 'EdDSA', typ: TYP, kid: op.kid });
    const m = await verify(jws);
    assert.equal(m.service, 'demo');
    assert.equal(m.aud, agent);
    assert.equal(m.deploy_timeout, 30);
  });

  it('refuses to sign an invalid payload or one claiming another issuer', async () => {
    await refused(sign(payload({ image: 'demo:latest' })), /image must be pinned by digest/, UserError);
    await refused(sign(payload(), stranger.kid), /iss must be the signing key id/, UserError);
    await refused(sign(payload({ exp: NOW + 901 })), /at most 900 s/, UserError);
  });

  it('accepts a hand-built manifest (positive control for the forged cases)', async () => {
    assert.equal((await verify(forged(payload()))).seq, 1);
  });

  it('refuses unsigned, HS256 and alg Ed25519 manifests', async () => {
    await refused(verify(forgeJws({ alg: 'none', typ: TYP, kid: op.kid }, payload(), 'none')), /alg must be EdDSA, got "none"/);
    const secret = Buffer.from(op.publicJwk.x as string, 'base64url');
    await refused(verify(forged(payload(), { alg: 'HS256' }, { hmacSecret: secret })), /alg must be EdDSA, got "HS256"/);
    await refused(verify(forged(payload(), { alg: 'Ed25519' })), /alg must be EdDSA, got "Ed25519"/);
  });

  it('refuses a tampered manifest', async () => {
    const jws = await sign(payload());
    await refused(verify(withPayload(jws, payload({ image: `evil@sha256:${'b'.repeat(64)}` }))), /signature verification failed/);
  });

  it('refuses the wrong typ (a request token is not a manifest)', async () => {
    await refused(verify(forged(payload(), { typ: 'berth-request+jwt' })), /typ must be berth-release\+jwt/);
  });

  it('refuses an unknown key and a kid that is not the iss', async () => {
    await refused(verify(forged(payload({ iss: stranger.kid }), { kid: stranger.kid }, { ed25519: stranger.privateJwk })), /unknown key/);
    await refused(verify(forged(payload({ iss: stranger.kid }))), /iss does not match kid/);
  });

  it('refuses a manifest for another agent', async () => {
    await refused(verify(forged(payload({ aud: otherAgent }))), /audience is not this agent/);
  });

  it('refuses an expired manifest', async () => {
    const jws = forged(payload());
    await verify(jws, { now: NOW + 299 });
    await refused(verify(jws, { now: NOW + 300 }), /manifest expired/);
  });

  it('refuses exp more than 900 s ahead', async () => {
    await verify(forged(payload({ iat: NOW + 30, exp: NOW + 900 })));
    await refused(verify(forged(payload({ iat: NOW + 30, exp: NOW + 901 }))), /exp is too far ahead \(901 s, max 900\)/);
  });

  it('refuses a lifetime exp - iat above 900 s', async () => {
    await verify(forged(payload({ iat: NOW - 50, exp: NOW + 850 })));
    await refused(verify(forged(payload({ iat: NOW - 51, exp: NOW + 850 }))), /lifetime exp - iat is too long \(901 s, max 900\)/);
  });

  it('refuses iat more than 30 s in the future', async () => {
    await verify(forged(payload({ iat: NOW + 30 })));
    await refused(verify(forged(payload({ iat: NOW + 31 }))), /iat is in the future/);
  });

  it('refuses a manifest missing an authorization claim', async () => {
    for (const name of ['iss', 'aud', 'sub', 'iat', 'exp', 'jti']) {
      const p = payload();
      delete p[name];
      await refused(verify(forged(p)), new RegExp(`missing claim ${name}$`));
    }
  });

  it('refuses a manifest with wrong claim types', async () => {
    await refused(verify(forged(payload({ exp: String(NOW + 300) }))), /claim exp must be a non-negative integer/);
  });

  it('refuses extra and invalid fields after the signature, naming the path', async () => {
    await refused(verify(forged(payload({ privileged: true }))), /^privileged: unknown field/, UserError);
    const { service: _s, ...noService } = payload();
    await refused(verify(forged(noService)), /^service: required/, UserError);
    await refused(verify(forged(payload({ image: 'demo:1.0' }))), /image must be pinned by digest \(repo@sha256:\.\.\.\), got "demo:1\.0"/, UserError);
  });

  it('refuses an oversized manifest before any crypto', async () => {
    const huge = forged(payload({ padding: 'x'.repeat(310 * 1024) }));
    await assert.rejects(verify(huge), (e: unknown) => e instanceof PayloadTooLargeError && e.status === 413 && /manifest is too large/.test(e.message));
  });
});
