// Tag → digest for `deploy push`: the agent refuses tags, so every deploy pins
// the exact manifest the tag names now. The protocol is shared/registry/; this
// gives it the CLI's transport and the image as the operator wrote it.

import { describeImage, type ImageReference } from '../shared/image-reference.js';
import { parseChallenge, type RegistryCredentials } from '../shared/registry/auth.js';
import { lookupTagDigest } from '../shared/registry/resolve.js';
import { send } from './registry-transport.js';

export type { RegistryCredentials } from '../shared/registry/auth.js';
export { MANIFEST_ACCEPT, registryBaseUrl } from '../shared/registry/resolve.js';

export interface RegistryOptions {
  timeoutMs?: number;
}

export function parseBearerChallenge(header: string): { realm: string; service?: string | undefined; scope?: string | undefined } | undefined {
  const c = parseChallenge(header);
  return c?.scheme === 'bearer' ? { realm: c.realm, service: c.service, scope: c.scope } : undefined;
}

/** The digest `ref` names now (a digest reference as it is, without asking the registry). */
export async function resolveImageDigest(ref: ImageReference, credentials?: RegistryCredentials, options: RegistryOptions = {}): Promise<string> {
  if (ref.digest) return ref.digest;
  return lookupTagDigest({
    registry: ref.registry,
    repository: ref.repository,
    tag: ref.tag ?? 'latest',
    image: describeImage(ref),
    credentials,
    send,
    timeoutMs: options.timeoutMs ?? 30_000,
  });
}
