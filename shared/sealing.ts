// Secrets travel sealed to one agent's X25519 key (JWE compact, ECDH-ES +
// A256GCM) inside the signed manifest; only that agent can open them.
import type { JWK } from './api-types.js';
import { UserError } from './errors.js';
import { decryptCompactJwe, encryptCompactJwe } from './jose.js';

export const SEALED_MAX_CHARS = 128 * 1024;

export function seal(plaintext: string, sealingPublicJwk: JWK): Promise<string> {
  return encryptCompactJwe(new TextEncoder().encode(plaintext), sealingPublicJwk);
}

export async function unseal(jwe: string, sealingPrivateJwk: JWK): Promise<string> {
  if (typeof jwe !== 'string' || jwe.length > SEALED_MAX_CHARS) {
    throw new UserError(`sealed value must be a string of at most ${SEALED_MAX_CHARS} characters`, undefined, 'unseal_failed');
  }
  const bytes = await decryptCompactJwe(jwe, sealingPrivateJwk);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError('sealed value is not UTF-8 text', undefined, 'unseal_failed');
  }
}
