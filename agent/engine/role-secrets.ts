// Opening a release's sealed secrets, once per deploy: for the containers'
// environment and for the spec fingerprints (which need the plaintext so that
// the same values sealed twice give the same fingerprint).
import { UserError } from '../../shared/errors.js';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { specFingerprint, specKey } from '../core/fingerprint.js';

export type Unseal = (jwe: string, key: JWK) => Promise<string>;
export type RoleSecrets = Record<string, Record<string, string>>;

export async function openRoleSecrets(manifest: ManifestPayload, sealingPrivateJwk: JWK, unseal: Unseal): Promise<RoleSecrets> {
  const out: RoleSecrets = {};
  for (const [role, spec] of Object.entries(manifest.roles)) {
    const values: Record<string, string> = {};
    for (const [name, jwe] of Object.entries(spec.env.secret)) {
      try {
        values[name] = await unseal(jwe, sealingPrivateJwk);
      } catch {
        // The cause is about the ciphertext, never the plaintext, but a fixed text is enough.
        throw new UserError(
          `secret ${name} of role ${role} could not be unsealed`,
          "it must be sealed to this agent's sealing key (see GET /v1/identity)",
        );
      }
    }
    out[role] = values;
  }
  return out;
}

export function roleFingerprints(manifest: ManifestPayload, secrets: RoleSecrets, sealingPrivateJwk: JWK): Record<string, string> {
  const key = specKey(sealingPrivateJwk);
  return Object.fromEntries(Object.keys(manifest.roles).map((role) => [role, specFingerprint(manifest, role, secrets[role] ?? {}, key)]));
}
