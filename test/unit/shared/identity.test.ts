import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { IdentityClaims } from '../../../shared/api-types.js';
import { AuthError } from '../../../shared/errors.js';
import { signIdentity, verifyIdentity } from '../../../shared/identity.js';
import { generateIdentityKeys, type IdentityKeys } from '../../../shared/keys.js';
import { BERTH_VERSION, FEATURES } from '../../../shared/version.js';
import { forgeJws, jwsHeader, withPayload } from '../../support/jws-forge.js';

const TYP = 'berth-identity+jwt';
let agent: IdentityKeys;
let impostor: IdentityKeys;

before(async () => {
  agent = await generateIdentityKeys();
  impostor = await generateIdentityKeys();
});

function doc(over: Partial<IdentityClaims> = {}): IdentityClaims {
  return {
    agent_id: agent.agentId,
    identity_jwk: agent.identity.publicJwk,
    sealing_jwk: agent.sealing.publicJwk,
    tls_fingerprint: 'ab'.repeat(32),
    version: BERTH_VERSION,
    features: [...FEATURES],
    iat: 1_700_000_000,
    ...over,
  };
}

function refused(p: Promise<unknown>, message: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AuthError, `expected AuthError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

describe('identity document', () => {
  it('round-trips', async () => {
    const jws = await signIdentity(doc(), agent.identity.privateJwk);
    assert.deepEqual(jwsHeader(jws), { alg: 'EdDSA', typ: TYP, kid: agent.agentId });
    assert.deepEqual(await verifyIdentity(jws), doc());
  });

  it('refuses a forged document whose agent_id is not its key', async () => {
    // The impostor signs with its own key but claims the real agent's id.
    const forged = forgeJws(
      { alg: 'EdDSA', typ: TYP, kid: agent.agentId },
      doc({ identity_jwk: impostor.identity.publicJwk }),
      { ed25519: impostor.identity.privateJwk },
    );
    await refused(verifyIdentity(forged), /agent_id does not match the thumbprint of identity_jwk/);
  });

  it('refuses a swapped sealing key (tampered payload)', async () => {
    const jws = await signIdentity(doc(), agent.identity.privateJwk);
    await refused(verifyIdentity(withPayload(jws, doc({ sealing_jwk: impostor.sealing.publicJwk }))), /signature verification failed/);
  });

  it('refuses a document signed by another key than the one it carries', async () => {
    const jws = forgeJws({ alg: 'EdDSA', typ: TYP, kid: agent.agentId }, doc(), { ed25519: impostor.identity.privateJwk });
    await refused(verifyIdentity(jws), /signature verification failed/);
  });

  it('refuses alg none, a wrong typ and a kid that is not the agent id', async () => {
    await refused(verifyIdentity(forgeJws({ alg: 'none', typ: TYP, kid: agent.agentId }, doc(), 'none')), /alg must be EdDSA/);
    await refused(verifyIdentity(forgeJws({ alg: 'EdDSA', typ: 'berth-release+jwt', kid: agent.agentId }, doc(), { ed25519: agent.identity.privateJwk })), /typ must be berth-identity\+jwt/);
    await refused(verifyIdentity(forgeJws({ alg: 'EdDSA', typ: TYP, kid: impostor.agentId }, doc(), { ed25519: agent.identity.privateJwk })), /kid does not match agent_id/);
  });

  it('refuses malformed claims, naming the field', async () => {
    const bad = forgeJws({ alg: 'EdDSA', typ: TYP, kid: agent.agentId }, doc({ tls_fingerprint: 'AB:CD' }), { ed25519: agent.identity.privateJwk });
    await refused(verifyIdentity(bad), /tls_fingerprint: must be 64 lowercase hex/);
  });

  it('drops private key material and unknown claims', async () => {
    const leaky = { ...doc(), sealing_jwk: { ...agent.sealing.publicJwk, d: 'x' }, future: 1 };
    const jws = forgeJws({ alg: 'EdDSA', typ: TYP, kid: agent.agentId }, leaky, { ed25519: agent.identity.privateJwk });
    assert.deepEqual(await verifyIdentity(jws), doc());
  });

  it('refuses to sign with a key that is not identity_jwk', async () => {
    await assert.rejects(signIdentity(doc(), impostor.identity.privateJwk), /signing key is not identity_jwk/);
    await assert.rejects(signIdentity(doc({ agent_id: impostor.agentId }), agent.identity.privateJwk), /agent_id must be the thumbprint/);
  });
});
