// The tags of the manifest image's repository, for a policy whose tag is a glob
// or a range (the agent picks the highest match with shared/tag-pattern.ts).
import { parseImageReference } from '../../shared/image-reference.js';
import type { RegistryCredentials } from '../../shared/registry/auth.js';
import type { Send } from '../../shared/registry/exchange.js';
import { listRepositoryTags } from '../../shared/registry/tags.js';
import { send as nodeSend } from './transport.js';

const DEFAULT_TIMEOUT_MS = 20_000;

export interface TagsListing {
  /** The manifest's image (`host:5000/app@sha256:…`); only its registry and repository count. */
  image: string;
  credentials?: RegistryCredentials | undefined;
  /** The deadline of each request (token, each page), redirects and body included. */
  timeoutMs?: number;
  send?: Send;
  /** Bounds (tests shrink them); see shared/registry/tags.ts. */
  pageSize?: number;
  maxPages?: number;
  maxTags?: number;
}

/**
 * Every tag of the image's repository, over at most 10 pages and 10,000 tags.
 * Throws RegistryError as resolveTagDigest does (404 repository not found,
 * 401/403, 429 with Retry-After, 5xx, 0 unreachable), and upstream_failed for
 * a list past the bounds.
 */
export async function listTags(l: TagsListing): Promise<string[]> {
  const ref = parseImageReference(l.image);
  return listRepositoryTags({
    registry: ref.registry,
    repository: ref.repository,
    image: ref.name,
    credentials: l.credentials,
    send: l.send ?? nodeSend,
    timeoutMs: l.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    pageSize: l.pageSize,
    maxPages: l.maxPages,
    maxTags: l.maxTags,
  });
}
