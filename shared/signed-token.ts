// Checks shared by every signed document Berth verifies (request tokens,
// release manifests, identity documents). The header and claims are checked
// here, by us, with messages that name the problem; jose only checks the
// signature (shared/jose.ts).
import type { JWK } from './api-types.js';
import { AuthError, PayloadTooLargeError, UserError } from './errors.js';
import { isBase64Url32, verifyCompactJws } from './jose.js';

/** Largest clock difference tolerated on `iat` in the future. */
export const CLOCK_SKEW_S = 30;

export const TOKEN_TYPES = {
  request: 'berth-request+jwt',
  release: 'berth-release+jwt',
  identity: 'berth-identity+jwt',
} as const;

export type KeyLookup = (kid: string) => JWK | undefined;

export interface DecodedJws {
  kid: string;
  claims: Record<string, unknown>;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const HEADER_MEMBERS = new Set(['alg', 'typ', 'kid']);

/** Seconds since the epoch; `now` is taken as seconds and must look like it. */
export function nowSeconds(now?: number): number {
  if (now === undefined) return Math.floor(Date.now() / 1000);
  // A millisecond value here would silently accept tokens for decades.
  if (!Number.isFinite(now) || now < 0 || now > 1e11) throw new UserError(`clock value ${now} is not epoch seconds`);
  return Math.floor(now);
}

function decodeJsonPart(part: string, what: string): unknown {
  if (!B64URL.test(part)) throw new AuthError(`malformed ${what}: not base64url`);
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw new AuthError(`malformed ${what}: not canonical base64url`);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new AuthError(`malformed ${what}: not JSON`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decodes a compact JWS without verifying it and checks its protected header:
 * exactly `{ alg: 'EdDSA', typ, kid }`. Refuses oversized input before any
 * decoding. `what` names the document in messages ("request token", "manifest").
 */
export function decodeUnverified(token: unknown, opts: { typ: string; maxChars: number; what: string }): DecodedJws {
  const { what } = opts;
  if (typeof token !== 'string' || token.length === 0) throw new AuthError(`missing ${what}`);
  if (token.length > opts.maxChars) {
    const msg = `${what} is too large (${token.length} bytes, max ${opts.maxChars})`;
    throw opts.maxChars > 64 * 1024 ? new PayloadTooLargeError(msg) : new AuthError(msg);
  }
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError(`malformed ${what}: expected a compact JWS (3 dot-separated parts)`);
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  const header = decodeJsonPart(headerPart, `${what} header`);
  if (!isPlainObject(header)) throw new AuthError(`malformed ${what} header: not a JSON object`);
  if (header.alg !== 'EdDSA') throw new AuthError(`${what}: alg must be EdDSA, got ${JSON.stringify(String(header.alg)).slice(0, 40)}`);
  if (header.typ !== opts.typ) {
    throw new AuthError(`${what}: typ must be ${opts.typ}, got ${JSON.stringify(String(header.typ)).slice(0, 60)}`);
  }
  if (!isBase64Url32(header.kid)) throw new AuthError(`${what}: kid must be a key id (JWK thumbprint)`);
  for (const name of Object.keys(header)) {
    if (!HEADER_MEMBERS.has(name)) throw new AuthError(`${what}: unexpected header parameter ${JSON.stringify(name).slice(0, 40)}`);
  }

  if (signaturePart.length === 0) throw new AuthError(`${what} is unsigned`);
  if (!B64URL.test(signaturePart)) throw new AuthError(`malformed ${what}: signature is not base64url`);
  const claims = decodeJsonPart(payloadPart, `${what} payload`);
  if (!isPlainObject(claims)) throw new AuthError(`malformed ${what} payload: not a JSON object`);
  return { kid: header.kid, claims };
}

/** Signature check with the given key; returns the verified claims. */
export async function verifyDecoded(token: string, key: JWK, what: string): Promise<Record<string, unknown>> {
  let payload: Uint8Array;
  try {
    payload = await verifyCompactJws(token, key);
  } catch (e) {
    if (e instanceof AuthError) throw new AuthError(`${what}: ${e.message}`);
    throw e;
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new AuthError(`malformed ${what} payload: not JSON`);
  }
  if (!isPlainObject(claims)) throw new AuthError(`malformed ${what} payload: not a JSON object`);
  return claims;
}

/** Header check, key lookup by `kid`, signature check; claims are still unchecked. */
export async function verifyWithLookup(
  token: unknown,
  opts: { typ: string; maxChars: number; what: string; lookupKey: KeyLookup },
): Promise<DecodedJws> {
  const { kid } = decodeUnverified(token, opts);
  const key = opts.lookupKey(kid);
  if (key === undefined) throw new AuthError(`${opts.what}: unknown key ${kid}`, 'trust the key on the agent with `berth-agent trust add`');
  const claims = await verifyDecoded(token as string, key, opts.what);
  return { kid, claims };
}

export type ClaimType = 'string' | 'integer' | 'object' | 'string[]';

function hasType(value: unknown, type: ClaimType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    case 'object':
      return isPlainObject(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
  }
}

/**
 * Every claim in `spec` present with its type. With `exact`, any other claim
 * is refused too (unknown claims may carry meaning a newer signer intended).
 */
export function requireClaims(claims: Record<string, unknown>, spec: Record<string, ClaimType>, what: string, exact: boolean): void {
  for (const [name, type] of Object.entries(spec)) {
    if (!(name in claims)) throw new AuthError(`${what}: missing claim ${name}`);
    if (!hasType(claims[name], type)) throw new AuthError(`${what}: claim ${name} must be ${type === 'integer' ? 'a non-negative integer' : `a ${type}`}`);
  }
  if (!exact) return;
  for (const name of Object.keys(claims)) {
    if (!(name in spec)) throw new AuthError(`${what}: unexpected claim ${JSON.stringify(name).slice(0, 40)}`);
  }
}

/**
 * Time bounds: not expired (`exp <= now` is expired; the replay cache keeps a
 * jti only until exp, so no grace is given past it), `exp` at most `maxAhead`
 * seconds away, lifetime `exp - iat` at most `maxLifetime`, `iat` at most
 * CLOCK_SKEW_S in the future.
 */
export function checkTimes(iat: number, exp: number, now: number, limits: { maxAhead: number; maxLifetime: number }, what: string): void {
  if (exp <= now) throw new AuthError(`${what} expired`, 'check the clock of the signing machine');
  if (iat > now + CLOCK_SKEW_S) throw new AuthError(`${what}: iat is in the future by ${iat - now} s (max ${CLOCK_SKEW_S})`, 'check the clocks of both machines');
  if (exp <= iat) throw new AuthError(`${what}: exp must be after iat`);
  if (exp - now > limits.maxAhead) throw new AuthError(`${what}: exp is too far ahead (${exp - now} s, max ${limits.maxAhead})`);
  if (exp - iat > limits.maxLifetime) throw new AuthError(`${what}: lifetime exp - iat is too long (${exp - iat} s, max ${limits.maxLifetime})`);
}
