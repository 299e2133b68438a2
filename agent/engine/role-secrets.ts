// Opening a release's sealed secrets, once per deploy: for the containers'
// environment and for the spec fingerprints (which need the plaintext so that
// the same values sealed twice give the same fingerprint). Each value opens
// only for the service, destination, role and env name it was sealed for
// (shared/sealing.ts); checkSealedValues is the stricter check made when a
// release is accepted.
import { SealBindingError, UserError, isBerthError } from '../../shared/errors.js';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { describeBinding, openSealed, sameBinding, type SealBinding } from '../../shared/sealing.js';
import { specFingerprint, specKey } from '../core/fingerprint.js';

export type Unseal = (jwe: string, key: JWK, expected: SealBinding) => Promise<string>;
export type RoleSecrets = Record<string, Record<string, string>>;

/** Every sealed value of a manifest with the one use it may open for. */
export function sealedValues(m: ManifestPayload): { jwe: string; binding: SealBinding }[] {
  const out: { jwe: string; binding: SealBinding }[] = [];
  for (const [role, spec] of Object.entries(m.roles)) {
    for (const [name, jwe] of Object.entries(spec.env.secret)) {
      out.push({ jwe, binding: { use: 'env', service: m.service, destination: m.destination, role, name } });
    }
  }
  for (const [role, spec] of Object.entries(m.roles)) {
    const ssl = spec.proxy?.ssl;
    if (typeof ssl === 'object') {
      out.push({ jwe: ssl.certificate_pem, binding: { use: 'tls-certificate', service: m.service, destination: m.destination, role } });
      out.push({ jwe: ssl.private_key_pem, binding: { use: 'tls-key', service: m.service, destination: m.destination, role } });
    }
  }
  if (m.registry) {
    out.push({ jwe: m.registry.password, binding: { use: 'registry-password', service: m.service, destination: m.destination, server: m.registry.server } });
  }
  for (const source of m.auto_deploy?.sources ?? []) {
    if (source.secret !== undefined) out.push({ jwe: source.secret, binding: { use: 'webhook-secret', service: m.service, destination: m.destination, source: source.name } });
  }
  for (const [accessory, spec] of Object.entries(m.accessories ?? {})) {
    for (const [name, jwe] of Object.entries(spec.env.secret)) {
      out.push({ jwe, binding: { use: 'accessory-env', service: m.service, destination: m.destination, accessory, name } });
    }
    for (const file of spec.files) {
      out.push({ jwe: file.content, binding: { use: 'accessory-file', service: m.service, destination: m.destination, accessory, target: file.target } });
    }
  }
  if (m.notify) {
    out.push({ jwe: m.notify.url, binding: { use: 'notify-url', service: m.service, destination: m.destination } });
    if (m.notify.secret !== undefined) out.push({ jwe: m.notify.secret, binding: { use: 'notify-secret', service: m.service, destination: m.destination } });
  }
  return out;
}

export async function openRoleSecrets(manifest: ManifestPayload, sealingPrivateJwk: JWK, unseal: Unseal): Promise<RoleSecrets> {
  const out: RoleSecrets = Object.fromEntries(Object.keys(manifest.roles).map((role) => [role, {}]));
  for (const { jwe, binding } of sealedValues(manifest)) {
    if (binding.use !== 'env') continue;
    try {
      (out[binding.role] as Record<string, string>)[binding.name] = await unseal(jwe, sealingPrivateJwk, binding);
    } catch (e) {
      if (e instanceof SealBindingError) throw e;
      // The cause is about the ciphertext, never the plaintext, but a fixed text is enough.
      throw new UserError(
        `secret ${binding.name} of role ${binding.role} could not be unsealed`,
        "it must be sealed to this agent's sealing key (see GET /v1/identity)",
      );
    }
  }
  return out;
}

/**
 * Where an unbound value (sealed before bindings existed) may still be used:
 * the store says whether this exact ciphertext is already in a stored release
 * of the same service and destination, for the same use. Ciphertexts are
 * random, so only a rollback to such a release can present one.
 */
export type StoredSealLookup = (jwe: string, binding: SealBinding) => boolean;

/** A StoredSealLookup over the payloads the store found containing the ciphertext. */
export function usedIn(payloads: readonly ManifestPayload[], jwe: string, binding: SealBinding): boolean {
  return payloads.some((p) => sealedValues(p).some((v) => v.jwe === jwe && sameBinding(v.binding, binding)));
}

/**
 * Run on POST /v1/releases before anything is stored: every sealed value
 * opens with this agent's key for exactly its use, and an unbound one only
 * when `storedFor` vouches for it. The plaintexts are dropped here.
 */
export async function checkSealedValues(m: ManifestPayload, sealingPrivateJwk: JWK, storedFor: StoredSealLookup): Promise<void> {
  for (const { jwe, binding } of sealedValues(m)) {
    let bound: boolean;
    try {
      ({ bound } = await openSealed(jwe, sealingPrivateJwk, binding));
    } catch (e) {
      if (e instanceof SealBindingError) throw e;
      throw new UserError(
        `${describeBinding(binding)} could not be unsealed${isBerthError(e) ? `: ${e.message}` : ''}`,
        "it must be sealed to this agent's sealing key (see GET /v1/identity)",
        'unseal_failed',
      );
    }
    if (!bound && !storedFor(jwe, binding)) {
      throw new SealBindingError(
        `the sealed value given for ${describeBinding(binding)} does not say what it was sealed for (sealed by an older deploy CLI)`,
        'upgrade the deploy CLI and push again: sealed values are now bound to their service, destination and name',
        'seal_unbound',
      );
    }
  }
}

export function roleFingerprints(manifest: ManifestPayload, secrets: RoleSecrets, sealingPrivateJwk: JWK): Record<string, string> {
  const key = specKey(sealingPrivateJwk);
  return Object.fromEntries(Object.keys(manifest.roles).map((role) => [role, specFingerprint(manifest, role, secrets[role] ?? {}, key)]));
}
