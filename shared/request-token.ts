// Per-request signatures: `Authorization: Berth <compact JWS>` binding the
// signer's key to one agent, one method, one path+query and one body, for at
// most a minute. The jti replay check belongs to the caller (the store).
import { createHash, randomBytes } from 'node:crypto';
import type { JWK } from './api-types.js';
import { AuthError, UserError } from './errors.js';
import { signCompactJws } from './jose.js';
import { TOKEN_TYPES, checkTimes, decodeUnverified, nowSeconds, requireClaims, verifyDecoded, type KeyLookup } from './signed-token.js';

export const REQUEST_TOKEN_MAX_CHARS = 8 * 1024;
export const REQUEST_TOKEN_DEFAULT_TTL_S = 30;
export const REQUEST_TOKEN_MAX_AHEAD_S = 60;
export const AUTHORIZATION_SCHEME = 'Berth';

const MAX_HTU_CHARS = 4096;
const METHOD = /^[A-Z]{1,16}$/;
const JTI = /^[A-Za-z0-9_-]{16,128}$/;

export interface RequestClaims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  htm: string;
  htu: string;
  bh: string;
}

const CLAIM_TYPES = {
  iss: 'string',
  aud: 'string',
  iat: 'integer',
  exp: 'integer',
  jti: 'string',
  htm: 'string',
  htu: 'string',
  bh: 'string',
} as const;

/** base64url(SHA-256(body)); an empty body hashes the empty string. */
export function bodyHash(body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('base64url');
}

export interface SignRequestOptions {
  privateJwk: JWK;
  kid: string;
  aud: string;
  method: string;
  pathAndQuery: string;
  /** The body, or its bodyHash when it is streamed (hashed before it is sent). */
  body: Uint8Array | string | { hash: string };
  /** epoch seconds */
  now?: number;
  /** seconds, 1..60 */
  ttl?: number;
}

export async function signRequest(opts: SignRequestOptions): Promise<string> {
  const htm = opts.method.toUpperCase();
  if (!METHOD.test(htm)) throw new UserError(`invalid HTTP method ${JSON.stringify(opts.method).slice(0, 30)}`);
  if (!opts.pathAndQuery.startsWith('/') || opts.pathAndQuery.length > MAX_HTU_CHARS) {
    throw new UserError('request path must start with "/" and be at most 4096 characters');
  }
  const ttl = opts.ttl ?? REQUEST_TOKEN_DEFAULT_TTL_S;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > REQUEST_TOKEN_MAX_AHEAD_S) {
    throw new UserError(`request token ttl must be 1..${REQUEST_TOKEN_MAX_AHEAD_S} seconds`);
  }
  const iat = nowSeconds(opts.now);
  const claims: RequestClaims = {
    iss: opts.kid,
    aud: opts.aud,
    iat,
    exp: iat + ttl,
    jti: randomBytes(16).toString('base64url'),
    htm,
    htu: opts.pathAndQuery,
    bh: typeof opts.body === 'object' && 'hash' in opts.body ? opts.body.hash : bodyHash(opts.body),
  };
  const payload = new TextEncoder().encode(JSON.stringify(claims));
  return signCompactJws(payload, { typ: TOKEN_TYPES.request, kid: opts.kid }, opts.privateJwk);
}

/** The token from an `Authorization: Berth <token>` header value; AuthError when absent or another scheme. */
export function tokenFromAuthorization(header: string | null | undefined): string {
  if (header === undefined || header === null || header === '') throw new AuthError('missing Authorization header', 'requests must be signed: Authorization: Berth <token>');
  const match = /^Berth ([^\s]+)$/.exec(header);
  if (!match) throw new AuthError('Authorization header must use the Berth scheme');
  return match[1] as string;
}

export interface VerifyRequestHeadOptions {
  lookupKey: KeyLookup;
  /** this agent's id */
  audience: string;
  method: string;
  pathAndQuery: string;
  /** epoch seconds */
  now?: number;
}

export interface VerifyRequestOptions extends VerifyRequestHeadOptions {
  body: Uint8Array;
}

/**
 * Everything but the body: the token's claims against the request line and
 * the clock, then the signature. The claims are checked first, unverified,
 * so junk costs no signature check; they are the same bytes the signature
 * then covers. The caller must still compare `bh` with the body it reads
 * (requireBodyHash) before treating the request as authenticated.
 */
export async function verifyRequestHead(token: string, opts: VerifyRequestHeadOptions): Promise<RequestClaims> {
  const what = 'request token';
  const decoded = decodeUnverified(token, { typ: TOKEN_TYPES.request, maxChars: REQUEST_TOKEN_MAX_CHARS, what });
  checkRequestClaims(decoded.kid, decoded.claims, opts, what);
  const key = opts.lookupKey(decoded.kid);
  if (key === undefined) throw new AuthError(`${what}: unknown key ${decoded.kid}`, 'trust the key on the agent with `berth-agent trust add`');
  const claims = await verifyDecoded(token, key, what);
  checkRequestClaims(decoded.kid, claims, opts, what);
  return claims as unknown as RequestClaims;
}

function checkRequestClaims(kid: string, claims: Record<string, unknown>, opts: VerifyRequestHeadOptions, what: string): void {
  requireClaims(claims, CLAIM_TYPES, what, true);
  const c = claims as unknown as RequestClaims;
  if (c.iss !== kid) throw new AuthError(`${what}: iss does not match kid`);
  if (c.aud !== opts.audience) throw new AuthError(`${what}: audience is not this agent`, 'the token was signed for another agent id');
  checkTimes(c.iat, c.exp, nowSeconds(opts.now), { maxAhead: REQUEST_TOKEN_MAX_AHEAD_S, maxLifetime: REQUEST_TOKEN_MAX_AHEAD_S }, what);
  if (!JTI.test(c.jti)) throw new AuthError(`${what}: jti must be 16..128 base64url characters`);
  if (c.htm !== opts.method.toUpperCase()) throw new AuthError(`${what}: htm does not match the request method`);
  if (c.htu !== opts.pathAndQuery) throw new AuthError(`${what}: htu does not match the request path`);
  if (!/^[A-Za-z0-9_-]{43}$/.test(c.bh)) throw new AuthError(`${what}: bh must be a base64url SHA-256`);
}

/** AuthError unless `hash` (base64url SHA-256 of the body as received) is the token's bh. */
export function requireBodyHash(claims: RequestClaims, hash: string): void {
  if (claims.bh !== hash) throw new AuthError('request token: bh does not match the request body');
}

export async function verifyRequest(token: string, opts: VerifyRequestOptions): Promise<RequestClaims> {
  const claims = await verifyRequestHead(token, opts);
  requireBodyHash(claims, bodyHash(opts.body));
  return claims;
}
