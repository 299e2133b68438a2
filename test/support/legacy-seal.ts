// What CLIs before bound sealing (sealing.bound.v1) sent: a JWE with no
// binding in its header, which opens for any service, role or name.
import type { JWK } from '../../shared/api-types.js';
import { encryptCompactJwe } from '../../shared/jose.js';

export function sealUnbound(plaintext: string, sealingPublicJwk: JWK): Promise<string> {
  return encryptCompactJwe(new TextEncoder().encode(plaintext), sealingPublicJwk);
}
