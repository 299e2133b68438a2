// A repository's tags through the registry HTTP API (`GET /v2/<repo>/tags/list`),
// for policies that follow a glob or a range: the agent picks the highest
// matching tag itself. Pages follow the `Link: <…>; rel="next"` header on the
// same origin; the walk is bounded (pages, tags, bytes per page) so a registry
// cannot keep an agent reading. A list past the bound is an error, not a
// prefix: registries sort tags lexically, so a prefix could miss the highest version.

import { registryFailure } from './auth.js';
import { notOk, openSession, registryBaseUrl, type RegistryTarget } from './session.js';

export const TAGS_PAGE_SIZE = 1000;
export const MAX_TAG_PAGES = 10;
export const MAX_TAGS = 10_000;
const MAX_PAGE_BYTES = 1024 * 1024;

export interface TagListing extends RegistryTarget {
  /** Defaults above; tests shrink them. */
  pageSize?: number;
  maxPages?: number;
  maxTags?: number;
}

/** The `rel="next"` target of a Link header, resolved against the page's URL. */
export function nextLink(header: string | undefined, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m || !/;\s*rel="?next"?(?:\s*;|\s*$)/i.test(m[2] ?? '')) continue;
    try {
      return new URL(m[1] ?? '', base);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Every tag of the repository, in the registry's order; typed RegistryError as lookupTagDigest. */
export async function listRepositoryTags(l: TagListing): Promise<string[]> {
  const pageSize = l.pageSize ?? TAGS_PAGE_SIZE;
  const maxPages = l.maxPages ?? MAX_TAG_PAGES;
  const maxTags = l.maxTags ?? MAX_TAGS;
  const first = new URL(`${registryBaseUrl(l.registry)}/v2/${l.repository}/tags/list`);
  first.searchParams.set('n', String(pageSize));
  const what = `the tag list of ${l.image}`;
  const opened = await openSession(l, MAX_PAGE_BYTES, 'GET', first.toString(), { Accept: 'application/json' });
  const { session } = opened;
  let response = opened.response;
  let url = first;
  const tags: string[] = [];
  for (let page = 1; ; page += 1) {
    if (response.status !== 200) throw notOk(l, session, response, 'repository not found');
    tags.push(...readPage(l, response.body));
    if (tags.length > maxTags) throw tooMany(l, `more than ${maxTags} tags`);
    const next = nextLink(response.header('link'), url);
    if (!next) return tags;
    // The login goes to the registry only; a next page elsewhere is not followed.
    if (next.origin !== first.origin || next.pathname !== first.pathname) {
      throw registryFailure(`registry ${l.registry} pointed the next page of ${what} away from ${first.pathname}`, response.status);
    }
    if (page >= maxPages) throw tooMany(l, `more than ${maxPages} pages of tags`);
    url = next;
    response = await session.call('GET', url.toString(), session.headers, { credentialed: session.credentialed, what });
  }
}

function readPage(l: TagListing, body: Buffer): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw registryFailure(`registry ${l.registry} answered the tag list of ${l.image} with invalid JSON`, 200);
  }
  // An empty repository may say `"tags": null`.
  const tags = (parsed as { tags?: unknown } | null)?.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string')) {
    throw registryFailure(`registry ${l.registry} answered the tag list of ${l.image} without a list of tags`, 200);
  }
  return tags;
}

function tooMany(l: TagListing, what: string) {
  return registryFailure(`repository ${l.repository} in registry ${l.registry} has ${what} (Berth reads no more)`, 200, {
    hint: 'follow an exact tag, or delete old tags from the repository',
  });
}
