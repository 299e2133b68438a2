// Signing and verifying release manifests (JWS, typ berth-release+jwt). The
// signature and the authorization claims are checked first (AuthError), then
// the payload against the strict schema (UserError naming the field).
import type { JWK } from './api-types.js';
import { AuthError, UserError } from './errors.js';
import { signCompactJws } from './jose.js';
import { MANIFEST_MAX_LIFETIME_S, parseManifestPayload, type ManifestInput, type ManifestPayload } from './manifest.js';
import { TOKEN_TYPES, checkTimes, nowSeconds, requireClaims, verifyWithLookup, type KeyLookup } from './signed-token.js';

export const MANIFEST_MAX_CHARS = 300 * 1024;

const AUTH_CLAIMS = {
  iss: 'string',
  aud: 'string',
  sub: 'string',
  iat: 'integer',
  exp: 'integer',
  jti: 'string',
} as const;

/** Validates `payload` against the schema before signing, so a bad manifest never leaves the CLI. */
export async function signManifest(payload: ManifestInput | ManifestPayload, privateJwk: JWK, kid: string): Promise<string> {
  const parsed = parseManifestPayload(payload);
  if (parsed.iss !== kid) throw new UserError('manifest iss must be the signing key id');
  if (parsed.exp <= parsed.iat || parsed.exp - parsed.iat > MANIFEST_MAX_LIFETIME_S) {
    throw new UserError(`manifest exp must be after iat and at most ${MANIFEST_MAX_LIFETIME_S} s later`);
  }
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  if (bytes.byteLength > MANIFEST_MAX_CHARS) throw new UserError(`manifest is too large (${bytes.byteLength} bytes)`);
  return signCompactJws(bytes, { typ: TOKEN_TYPES.release, kid }, privateJwk);
}

export interface VerifyManifestOptions {
  lookupKey: KeyLookup;
  /** this agent's id */
  audience: string;
  /** epoch seconds */
  now?: number;
}

export async function verifyManifest(jws: string, opts: VerifyManifestOptions): Promise<ManifestPayload> {
  const what = 'manifest';
  const { kid, claims } = await verifyWithLookup(jws, {
    typ: TOKEN_TYPES.release,
    maxChars: MANIFEST_MAX_CHARS,
    what,
    lookupKey: opts.lookupKey,
  });
  // Extra claims are refused by the strict schema below, with their path.
  requireClaims(claims, AUTH_CLAIMS, what, false);
  const c = claims as { iss: string; aud: string; iat: number; exp: number };
  if (c.iss !== kid) throw new AuthError(`${what}: iss does not match kid`);
  if (c.aud !== opts.audience) throw new AuthError(`${what}: audience is not this agent`, 'the manifest was signed for another agent id');
  checkTimes(c.iat, c.exp, nowSeconds(opts.now), { maxAhead: MANIFEST_MAX_LIFETIME_S, maxLifetime: MANIFEST_MAX_LIFETIME_S }, what);
  return parseManifestPayload(claims);
}
