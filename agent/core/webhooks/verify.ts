// PURE: the comparisons that authenticate a delivery. Every secret comparison
// hashes both sides to 32 bytes and compares those with timingSafeEqual, so
// neither the position of the first difference nor the length of the secret
// shows in the time taken.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../../../shared/errors.js';

function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export function hmacSha256Hex(secret: string, ...parts: Array<string | Buffer>): string {
  const mac = createHmac('sha256', secret);
  for (const p of parts) mac.update(p);
  return mac.digest('hex');
}

export function sha256Hex(value: string | Buffer): string {
  return sha256(value).toString('hex');
}

/** The path token is the first gate for every source, signed or not. */
export function requirePathToken(ok: boolean): void {
  if (!ok) throw new AuthError('the webhook token in the path is not this service’s');
}

export function requireSecret(secret: string | undefined, source: string): string {
  if (secret === undefined || secret === '') throw new AuthError(`the ${source} source has no secret in the policy, so no delivery can be authentic`);
  return secret;
}

/**
 * `sha256=<hex>` against the expected hex HMAC. The hex is lower-cased first
 * (hex case carries no information); a missing or malformed header compares
 * as the empty string and fails like a wrong one.
 */
export function requireSignature(header: string | undefined, expectedHex: string, headerName: string): void {
  const given = header !== undefined && header.startsWith('sha256=') ? header.slice('sha256='.length).toLowerCase() : '';
  const match = constantTimeEqual(given, expectedHex);
  if (header === undefined) throw new AuthError(`${headerName} is missing`);
  if (!match) throw new AuthError(`${headerName} does not match the body`);
}

/**
 * The Authorization header as a registry sends it from its endpoint config:
 * either the secret itself or `Bearer <secret>`. Both comparisons always run.
 */
export function requireAuthorization(header: string | undefined, secret: string): void {
  const value = header ?? '';
  const plain = constantTimeEqual(value, secret);
  const bearer = constantTimeEqual(value, `Bearer ${secret}`);
  if (header === undefined) throw new AuthError('the Authorization header is missing');
  if (!(plain || bearer)) throw new AuthError('the Authorization header does not match the source’s secret');
}
