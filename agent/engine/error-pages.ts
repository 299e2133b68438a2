// The pages of Kamal's error_pages_path on their way to the router. Routes
// carry only each page's hash (agent/core/routes.ts); the text travels beside
// the table: before a table is sent, the router is given the pages it lacks
// (PUT /error-pages/:hash), so it never sees a route naming a page it has not
// got. The texts are where the release put them, in the stored manifests of
// the route's service, so whatever built the route (a deploy, reconcile,
// `deploy app start`, an agent that restarted) the page can be found.
import { errorPageHash } from '../../shared/error-pages.js';
import { UpstreamError } from '../../shared/errors.js';
import type { Route } from '../../shared/routes.js';
import type { Store } from '../store/index.js';
import type { RouterPort } from './types.js';

/** The text of the page with this hash, for a route that names it; undefined when no stored release has it. */
export type ErrorPageSource = (route: Route, hash: string) => string | undefined;

/** Pages looked up in the stored manifests of the route's service (`svc` or `svc@dest`). */
export function storedErrorPages(store: Pick<Store, 'payloadsContaining'>): ErrorPageSource {
  return (route, hash) => {
    const at = route.service.indexOf('@');
    const service = at === -1 ? route.service : route.service.slice(0, at);
    const destination = at === -1 ? '' : route.service.slice(at + 1);
    for (const m of store.payloadsContaining(service, destination, '"error_pages"')) {
      for (const html of Object.values(m.error_pages ?? {})) if (errorPageHash(html) === hash) return html;
    }
    return undefined;
  };
}

/** Gives the router every page `routes` name that it lacks; a table without pages costs no call. */
export async function pushErrorPages(router: RouterPort, routes: readonly Route[], source: ErrorPageSource): Promise<void> {
  const wanted = new Map<string, Route>();
  for (const route of routes) for (const hash of Object.values(route.error_pages ?? {})) if (!wanted.has(hash)) wanted.set(hash, route);
  if (wanted.size === 0) return;
  if (!router.listErrorPages || !router.putErrorPage) throw new UpstreamError('this router cannot serve error pages');
  const present = new Set(await router.listErrorPages());
  for (const [hash, route] of wanted) {
    if (present.has(hash)) continue;
    const html = source(route, hash);
    // The router then refuses the table naming it, and says which page it lacks.
    if (html === undefined) continue;
    await router.putErrorPage(hash, html);
  }
}
