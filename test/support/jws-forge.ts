// Builds compact JWS by hand with node:crypto, independent of the code under
// test, so tests can produce tokens the real signer never would: unsigned,
// HS256, alg Ed25519, odd headers, arbitrary claims.
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import type { JWK } from '../../shared/api-types.js';

export function b64urlJson(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

export type ForgeSigner = { ed25519: JWK } | { hmacSecret: Uint8Array } | 'none';

export function forgeJws(header: Record<string, unknown>, payload: unknown, signer: ForgeSigner): string {
  const input = `${b64urlJson(header)}.${b64urlJson(payload)}`;
  if (signer === 'none') return `${input}.`;
  if ('hmacSecret' in signer) {
    return `${input}.${createHmac('sha256', signer.hmacSecret).update(input).digest('base64url')}`;
  }
  const key = createPrivateKey({ key: signer.ed25519 as import('node:crypto').JsonWebKey, format: 'jwk' });
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** The payload of a compact JWS, decoded without verification. */
export function jwsPayload(jws: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function jwsHeader(jws: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Replaces the payload part, keeping header and signature (a tampered token). */
export function withPayload(jws: string, payload: unknown): string {
  const [h, , s] = jws.split('.');
  return `${h}.${b64urlJson(payload)}.${s}`;
}
