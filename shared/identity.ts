// The agent's identity document: self-signed by its identity key, it binds the
// sealing key and the TLS certificate fingerprint to the agent id (the
// identity key's thumbprint). A client pins these on first contact.
import { z } from 'zod';
import type { IdentityClaims, JWK } from './api-types.js';
import { AuthError, UserError } from './errors.js';
import { isBase64Url32, jwkThumbprint, publicOkpJwk, signCompactJws } from './jose.js';
import { describeIssues } from './manifest.js';
import { TOKEN_TYPES, decodeUnverified, verifyDecoded } from './signed-token.js';

export const IDENTITY_MAX_CHARS = 16 * 1024;

const okpPublic = (crv: 'Ed25519' | 'X25519') =>
  z.object({ kty: z.literal('OKP'), crv: z.literal(crv), x: z.string().refine(isBase64Url32, 'must be 32 bytes base64url') });

// Not strict: a newer agent may add claims; unknown ones are dropped, never used.
const identityClaimsSchema = z.object({
  agent_id: z.string().refine(isBase64Url32, 'must be a JWK thumbprint'),
  identity_jwk: okpPublic('Ed25519'),
  sealing_jwk: okpPublic('X25519'),
  tls_fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
  version: z.string().min(1).max(64),
  features: z.array(z.string().min(1).max(64)).max(64),
  iat: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

function parseClaims(input: unknown): IdentityClaims {
  const result = identityClaimsSchema.safeParse(input);
  if (!result.success) throw new AuthError(`identity document: ${describeIssues(result.error)}`);
  const c = result.data;
  // Rebuilt so no member beyond kty/crv/x (such as a private `d`) survives.
  return {
    ...c,
    identity_jwk: publicOkpJwk(c.identity_jwk, 'Ed25519'),
    sealing_jwk: publicOkpJwk(c.sealing_jwk, 'X25519'),
  };
}

export async function signIdentity(doc: IdentityClaims, identityPrivateJwk: JWK): Promise<string> {
  let claims: IdentityClaims;
  try {
    claims = parseClaims(doc);
  } catch (e) {
    throw new UserError(e instanceof Error ? e.message : 'identity document does not validate');
  }
  if ((await jwkThumbprint(claims.identity_jwk)) !== claims.agent_id) {
    throw new UserError('identity document: agent_id must be the thumbprint of identity_jwk');
  }
  if (identityPrivateJwk.x !== claims.identity_jwk.x) {
    throw new UserError('identity document: signing key is not identity_jwk');
  }
  const bytes = new TextEncoder().encode(JSON.stringify(claims));
  return signCompactJws(bytes, { typ: TOKEN_TYPES.identity, kid: claims.agent_id }, identityPrivateJwk);
}

/**
 * Checks the document against the key it carries. This proves only that the
 * holder of agent_id's key made it; whether agent_id is the expected agent is
 * the caller's pin check.
 */
export async function verifyIdentity(jws: string): Promise<IdentityClaims> {
  const what = 'identity document';
  const { kid, claims: unverified } = decodeUnverified(jws, { typ: TOKEN_TYPES.identity, maxChars: IDENTITY_MAX_CHARS, what });
  const claims = parseClaims(unverified);
  if ((await jwkThumbprint(claims.identity_jwk)) !== claims.agent_id) {
    throw new AuthError(`${what}: agent_id does not match the thumbprint of identity_jwk`);
  }
  if (kid !== claims.agent_id) throw new AuthError(`${what}: kid does not match agent_id`);
  return parseClaims(await verifyDecoded(jws, claims.identity_jwk, what));
}
