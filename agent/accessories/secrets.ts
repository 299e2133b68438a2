// An accessory's sealed values (env secrets, file contents) opened for one
// operation: each opens only for the accessory, name or target it was sealed
// for. The plaintext goes into the container's env, the file on the host and
// the summary digests; never into an event, a log line or an error.
import { SealBindingError, UserError } from '../../shared/errors.js';
import type { JWK } from '../../shared/api-types.js';
import type { AccessorySpec, ManifestPayload } from '../../shared/manifest.js';
import { describeBinding, type SealBinding } from '../../shared/sealing.js';
import type { AccessorySecrets } from '../core/accessories.js';
import type { Unseal } from '../engine/role-secrets.js';

export async function openAccessorySecrets(m: ManifestPayload, name: string, spec: AccessorySpec, key: JWK, unseal: Unseal): Promise<AccessorySecrets> {
  const open = async (jwe: string, binding: SealBinding): Promise<string> => {
    try {
      return await unseal(jwe, key, binding);
    } catch (e) {
      if (e instanceof SealBindingError) throw e;
      throw new UserError(`${describeBinding(binding)} could not be unsealed`, "it must be sealed to this agent's sealing key (see GET /v1/identity)", 'unseal_failed');
    }
  };
  const where = { service: m.service, destination: m.destination, accessory: name };
  const out: AccessorySecrets = { env: {}, files: {} };
  for (const [env, jwe] of Object.entries(spec.env.secret)) out.env[env] = await open(jwe, { use: 'accessory-env', ...where, name: env });
  for (const f of spec.files) out.files[f.target] = await open(f.content, { use: 'accessory-file', ...where, target: f.target });
  return out;
}
