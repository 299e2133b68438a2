// Tag → digest through the registry HTTP API (distribution spec), anonymously
// or with a registry login (Basic, or Bearer tokens as Docker Hub does). The CLI
// pins every deploy to the manifest a tag names now; the agent re-reads a tag
// itself when a webhook or its poller says it moved. Both inject their transport.

import { createHash } from 'node:crypto';
import { answeredHttp, notOk, openSession, registryBaseUrl, type RegistryTarget } from './session.js';

export { parseRetryAfter, registryBaseUrl } from './session.js';

// Without these the distribution registry answers 400 (or a converted v1 manifest).
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface DigestLookup extends RegistryTarget {
  tag: string;
}

/**
 * The digest the tag names now. With `credentials`, a registry's challenge is
 * answered with them; errors say "credentials rejected" apart from "repository
 * or tag not found", and name the registry and the user, never the password.
 */
export async function lookupTagDigest(l: DigestLookup): Promise<string> {
  const url = `${registryBaseUrl(l.registry)}/v2/${l.repository}/manifests/${encodeURIComponent(l.tag)}`;
  const { session, response } = await openSession(l, MAX_MANIFEST_BYTES, 'HEAD', url, { Accept: MANIFEST_ACCEPT });
  if (response.status !== 200) throw notOk(l, session, response, 'repository or tag not found');
  const digest = response.header('docker-content-digest');
  if (digest && DIGEST.test(digest)) return digest;

  // Some registries omit the header on HEAD: the digest is the hash of the manifest bytes.
  const full = await session.call('GET', url, session.headers, { credentialed: session.credentialed, what: `the manifest of ${l.image}` });
  if (full.status !== 200) throw answeredHttp(l, full);
  return `sha256:${createHash('sha256').update(full.body).digest('hex')}`;
}
