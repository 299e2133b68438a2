// The registry login of a release: its password travels sealed in the manifest
// and is opened here, only at pull time, only to hand to Docker. The clear text
// is never stored, logged, or put in an event or an error.
import { SealBindingError, UserError } from '../../shared/errors.js';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { RegistryAuth } from '../docker.js';
import type { Unseal } from './role-secrets.js';

export async function registryAuth(
  m: ManifestPayload,
  sealingPrivateJwk: JWK,
  unseal: Unseal,
): Promise<RegistryAuth | undefined> {
  if (!m.registry) return undefined;
  const { server, username } = m.registry;
  let password: string;
  try {
    password = await unseal(m.registry.password, sealingPrivateJwk, { use: 'registry-password', service: m.service, destination: m.destination, server });
  } catch (e) {
    if (e instanceof SealBindingError) throw e;
    throw new UserError(
      `the password of registry ${server} (user ${username}) could not be unsealed`,
      "it must be sealed to this agent's sealing key (see GET /v1/identity)",
    );
  }
  return { username, password, serveraddress: server };
}

/** What an event may say about the login: who, where, never the password. */
export function describeLogin(auth: RegistryAuth | undefined): string {
  return auth ? ` as ${auth.username} on ${auth.serveraddress}` : '';
}
