// Secrets travel sealed to one agent's X25519 key (JWE compact, ECDH-ES +
// A256GCM) inside the signed manifest; only that agent can open them. Each
// value is also bound to the one use it was sealed for (service, destination,
// role and env name, a registry's password, or a webhook source's secret) by
// a critical protected-header member, which AES-GCM authenticates: copied into
// another service, role or name, it does not open.
import type { JWK } from './api-types.js';
import { SealBindingError, UserError } from './errors.js';
import { decryptCompactJwe, encryptCompactJwe } from './jose.js';

export const SEALED_MAX_CHARS = 128 * 1024;
/** The protected-header member that carries the binding. */
export const SEAL_BINDING_MEMBER = 'berth';

export type SealBinding =
  | { use: 'env'; service: string; destination: string; role: string; name: string }
  | { use: 'registry-password'; service: string; destination: string; server: string }
  | { use: 'webhook-secret'; service: string; destination: string; source: string }
  | { use: 'notify-url' | 'notify-secret'; service: string; destination: string }
  | { use: 'accessory-env'; service: string; destination: string; accessory: string; name: string }
  | { use: 'accessory-file'; service: string; destination: string; accessory: string; target: string }
  | { use: 'tls-certificate' | 'tls-key'; service: string; destination: string; role: string };

const FIELDS: Record<SealBinding['use'], readonly string[]> = {
  env: ['use', 'service', 'destination', 'role', 'name'],
  'registry-password': ['use', 'service', 'destination', 'server'],
  'webhook-secret': ['use', 'service', 'destination', 'source'],
  'notify-url': ['use', 'service', 'destination'],
  'notify-secret': ['use', 'service', 'destination'],
  'accessory-env': ['use', 'service', 'destination', 'accessory', 'name'],
  'accessory-file': ['use', 'service', 'destination', 'accessory', 'target'],
  'tls-certificate': ['use', 'service', 'destination', 'role'],
  'tls-key': ['use', 'service', 'destination', 'role'],
};

/** How an error names a use: `env TOKEN of role web of service app (destination "")`. */
export function describeBinding(b: SealBinding): string {
  const where = `service ${b.service} (destination ${JSON.stringify(b.destination)})`;
  switch (b.use) {
    case 'env':
      return `env ${b.name} of role ${b.role} of ${where}`;
    case 'registry-password':
      return `the password of registry ${b.server} for ${where}`;
    case 'webhook-secret':
      return `the ${b.source} webhook secret of ${where}`;
    case 'notify-url':
      return `the notify URL of ${where}`;
    case 'notify-secret':
      return `the notify secret of ${where}`;
    case 'accessory-env':
      return `env ${b.name} of accessory ${b.accessory} of ${where}`;
    case 'accessory-file':
      return `file ${b.target} of accessory ${b.accessory} of ${where}`;
    case 'tls-certificate':
      return `the TLS certificate of role ${b.role} of ${where}`;
    case 'tls-key':
      return `the TLS private key of role ${b.role} of ${where}`;
  }
}

function asBinding(value: unknown): SealBinding | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.use !== 'string' || !Object.hasOwn(FIELDS, v.use)) return undefined;
  const fields = FIELDS[v.use as SealBinding['use']];
  const keys = Object.keys(v);
  // Printable and short: the fields end up in error messages.
  if (keys.length !== fields.length || !fields.every((f) => typeof v[f] === 'string' && /^[\x20-\x7e]{0,255}$/.test(v[f]))) return undefined;
  return v as unknown as SealBinding;
}

export function sameBinding(a: SealBinding, b: SealBinding): boolean {
  return a.use === b.use && FIELDS[a.use].every((f) => (a as Record<string, string>)[f] === (b as Record<string, string>)[f]);
}

export function seal(plaintext: string, sealingPublicJwk: JWK, binding: SealBinding): Promise<string> {
  const value = Object.fromEntries(FIELDS[binding.use].map((f) => [f, (binding as Record<string, string>)[f] as string]));
  return encryptCompactJwe(new TextEncoder().encode(plaintext), sealingPublicJwk, { name: SEAL_BINDING_MEMBER, value });
}

export interface Opened {
  value: string;
  /** False for a value sealed before bindings existed (it opens anywhere). */
  bound: boolean;
}

/**
 * Opens a sealed value for `expected`; SealBindingError when it was sealed
 * for another use. An unbound value opens: whether to accept one is the
 * caller's decision (POST /v1/releases refuses new ones).
 */
export async function openSealed(jwe: string, sealingPrivateJwk: JWK, expected: SealBinding): Promise<Opened> {
  if (typeof jwe !== 'string' || jwe.length > SEALED_MAX_CHARS) {
    throw new UserError(`sealed value must be a string of at most ${SEALED_MAX_CHARS} characters`, undefined, 'unseal_failed');
  }
  const { plaintext, extension } = await decryptCompactJwe(jwe, sealingPrivateJwk, SEAL_BINDING_MEMBER);
  let bound = false;
  if (extension !== undefined) {
    const sealedFor = asBinding(extension);
    if (!sealedFor) throw new UserError(`sealed value for ${describeBinding(expected)} has a malformed binding`, undefined, 'unseal_failed');
    if (!sameBinding(sealedFor, expected)) {
      throw new SealBindingError(
        `the sealed value given for ${describeBinding(expected)} was sealed for ${describeBinding(sealedFor)}`,
        'a sealed value opens only where it was sealed for; seal the secret again for this use (deploy push)',
        'seal_mismatch',
      );
    }
    bound = true;
  }
  try {
    return { value: new TextDecoder('utf-8', { fatal: true }).decode(plaintext), bound };
  } catch {
    throw new UserError('sealed value is not UTF-8 text', undefined, 'unseal_failed');
  }
}

/** The value, for a release the agent has already accepted (see openSealed). */
export async function unseal(jwe: string, sealingPrivateJwk: JWK, expected: SealBinding): Promise<string> {
  return (await openSealed(jwe, sealingPrivateJwk, expected)).value;
}
