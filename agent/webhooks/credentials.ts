// The registry login a tag lookup uses: the same sealed password the engine
// opens to pull, opened the same way, handed only to the registry client.
import type { JWK } from '../../shared/api-types.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { registryAuth } from '../engine/registry-auth.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { OpenRegistryCredentials } from './tag-push.js';

export function registryCredentials(sealingPrivateJwk: JWK, unseal: Unseal = defaultUnseal): OpenRegistryCredentials {
  return async (payload) => {
    const auth = await registryAuth(payload, sealingPrivateJwk, unseal);
    return auth ? { username: auth.username, password: auth.password } : undefined;
  };
}
