// PURE: the `berth.spec` label — a fingerprint of everything that shapes a
// role's container, so a retained container is reused only when nothing about
// it changed. Secrets enter as plaintext (sealed values differ on every seal)
// through an HMAC keyed from the agent's sealing key: equal plaintext gives an
// equal label on one agent, and the label tells nobody else anything.
import { createHmac, hkdfSync } from 'node:crypto';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';

const KEY_INFO = 'berth.spec-fingerprint.v1';

/** The fingerprint key: HKDF-SHA256 over the sealing private scalar, under its own label. */
export function specKey(sealingPrivateJwk: JWK): Buffer {
  const d = typeof sealingPrivateJwk.d === 'string' ? sealingPrivateJwk.d : '';
  if (d === '') throw new Error('the sealing key has no private part');
  return Buffer.from(hkdfSync('sha256', Buffer.from(d, 'base64url'), Buffer.alloc(0), KEY_INFO, 32));
}

/** JSON with object keys sorted at every level, so equal settings hash equally. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** `secrets` are the role's unsealed values. */
export function specFingerprint(manifest: ManifestPayload, role: string, secrets: Record<string, string>, key: Uint8Array): string {
  const r = Object.hasOwn(manifest.roles, role) ? manifest.roles[role] : undefined;
  if (!r) throw new Error(`role ${role} is not in the manifest of ${manifest.service} ${manifest.version}`);
  const canonical = canonicalJson({
    image: manifest.image,
    cmd: r.cmd ?? null,
    env: r.env.clear,
    secrets,
    labels: r.labels ?? {},
    volumes: r.volumes ?? [],
    logging: r.logging ?? null,
    options: r.options ?? {},
  });
  return createHmac('sha256', key).update(canonical).digest('hex').slice(0, 32);
}
