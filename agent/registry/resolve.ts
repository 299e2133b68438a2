// The agent reads a tag's digest from the registry itself: a webhook or the
// poller only says "look again", and a digest in a payload is never used. The
// repository is always the one in the stored signed manifest's image.

import { parseImageReference } from '../../shared/image-reference.js';
import type { RegistryCredentials } from '../../shared/registry/auth.js';
import type { Send } from '../../shared/registry/exchange.js';
import { lookupTagDigest } from '../../shared/registry/resolve.js';
import { send as nodeSend } from './transport.js';

const DEFAULT_TIMEOUT_MS = 20_000;

export interface TagLookup {
  /** The manifest's image (`host:5000/app@sha256:…`); only its registry and repository count. */
  image: string;
  tag: string;
  /** The release's login, opened by registryAuth() (agent/engine/registry-auth.ts). */
  credentials?: RegistryCredentials | undefined;
  /** The deadline of each request (token, HEAD, GET fallback), redirects and body included. */
  timeoutMs?: number;
  send?: Send;
}

/**
 * The digest `tag` names now in the image's repository, by a HEAD of the
 * manifest (a GET when the registry sends no digest header). Throws
 * RegistryError (shared/errors.ts) with the registry's answer: 404 tag or
 * repository not found, 401/403 credentials, 429 with its Retry-After, 5xx,
 * 0 unreachable or timed out. Messages name the registry and user, never the password.
 */
export async function resolveTagDigest(l: TagLookup): Promise<{ digest: string }> {
  const ref = parseImageReference(l.image);
  const tagged = parseImageReference(`${ref.name}:${l.tag}`);
  const digest = await lookupTagDigest({
    registry: tagged.registry,
    repository: tagged.repository,
    tag: l.tag,
    image: `${tagged.name}:${l.tag}`,
    credentials: l.credentials,
    send: l.send ?? nodeSend,
    timeoutMs: l.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  return { digest };
}
