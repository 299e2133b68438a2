// The pages of Kamal's error_pages_path on their way to the router. Routes
// carry only each page's hash (agent/core/routes.ts); the text travels beside
// the table: before a table is sent, the router is given the pages it lacks
// (PUT /error-pages/:hash), so it never sees a route naming a page it has not
// got. The agent keeps the texts in memory, learnt from each release whose
// routes it builds (a deploy's switch, and every current release at start).
import { errorPageHash, type ErrorPages } from '../../shared/error-pages.js';
import { UpstreamError } from '../../shared/errors.js';
import type { Route } from '../../shared/routes.js';
import type { RouterPort } from './types.js';

// Pages kept beyond those the table names, for putting back a previous table; content-addressed, so a redeploy adds none.
const KEEP_UNREFERENCED = 256;
const known = new Map<string, string>();

/** Remembers a release's pages; synchronous, so it happens in the same turn as the route it belongs to. */
export function rememberErrorPages(pages: ErrorPages | undefined): void {
  for (const html of Object.values(pages ?? {})) {
    const hash = errorPageHash(html);
    known.delete(hash);
    known.set(hash, html);
  }
}

/** Gives the router every page `routes` name that it lacks; a table without pages costs no call. */
export async function pushErrorPages(router: RouterPort, routes: readonly Route[]): Promise<void> {
  const wanted = new Set(routes.flatMap((r) => Object.values(r.error_pages ?? {})));
  forgetUnreferenced(wanted);
  if (wanted.size === 0) return;
  if (!router.listErrorPages || !router.putErrorPage) throw new UpstreamError('this router cannot serve error pages');
  const present = new Set(await router.listErrorPages());
  for (const hash of wanted) {
    if (present.has(hash)) continue;
    const html = known.get(hash);
    // The router then refuses the table naming it, and says which page it lacks.
    if (html === undefined) continue;
    await router.putErrorPage(hash, html);
  }
}

function forgetUnreferenced(wanted: ReadonlySet<string>): void {
  let spare = [...known.keys()].filter((h) => !wanted.has(h)).length - KEEP_UNREFERENCED;
  // Oldest first: a Map iterates in insertion order, and remembering moves a page to the end.
  for (const hash of known.keys()) {
    if (spare <= 0) break;
    if (wanted.has(hash)) continue;
    known.delete(hash);
    spare--;
  }
}
