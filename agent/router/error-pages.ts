// The app's error pages (Kamal's error_pages_path) in the router. The agent
// sends each page once, named by the SHA-256 of its text (PUT
// /error-pages/:hash); routes name pages by hash per status. Pages are kept
// 0600 under <state>/router/error-pages/ so a restarted router serves them
// with its route snapshot while the agent is down; a page no route names is
// dropped when a table is applied. A request is bound to its route's pages
// once routed, and every answer the router gives itself from then on (error
// pages, maintenance) uses the route's page for that status when there is one.

import type { IncomingMessage } from 'node:http';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../shared/errors.js';
import { DEFAULT_MAINTENANCE_MESSAGE } from '../../shared/maintenance.js';
import { ERROR_PAGE_HASH, errorPageHash, errorPageProblem, parseErrorPage, renderParsedPage, type ParsedPage } from '../../shared/error-pages.js';
import type { Route, RouteSet } from '../../shared/routes.js';
import { readSmallFile, writeFileDurably } from '../durable-file.js';
import { createSerial } from '../serial.js';

/** Pages one router holds at most: 16 per service for 64 services at once. */
export const MAX_STORED_PAGES = 1024;
const MAX_FILE_BYTES = 64 * 1024;

export class ErrorPageStore {
  private readonly pages = new Map<string, { html: string; parsed: ParsedPage }>();
  private readonly serialize = createSerial();

  /** `dir` undefined: a cluster worker's copy, in memory only. */
  constructor(
    private readonly dir: string | undefined,
    private readonly log: (message: string) => void,
  ) {}

  async load(): Promise<void> {
    if (!this.dir) return;
    const names = await readdir(this.dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    for (const name of names.filter((n) => n.endsWith('.html')).sort()) {
      try {
        this.adopt(name.slice(0, -5), await readSmallFile(join(this.dir, name), MAX_FILE_BYTES));
      } catch (e) {
        this.log(`error: ignoring unusable error page ${name}: ${(e as Error).message}`);
      }
    }
  }

  /** Checks the body of PUT /error-pages/:hash, keeps the page on disk, then serves it. */
  put(hash: string, body: unknown): Promise<void> {
    const html = (body as { html?: unknown } | null)?.html;
    if (typeof body !== 'object' || body === null || typeof html !== 'string' || Object.keys(body).length !== 1) {
      throw new UserError('the body must be {html}', undefined, 'invalid_error_page');
    }
    const checked = checkPage(hash, html);
    return this.serialize(async () => {
      if (this.pages.has(hash)) return;
      if (this.pages.size >= MAX_STORED_PAGES) {
        throw new UserError(`the router holds ${MAX_STORED_PAGES} error pages already`, 'remove services or pages no longer used', 'too_many_error_pages');
      }
      if (this.dir) {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        await writeFileDurably(join(this.dir, `${hash}.html`), html, 0o600);
      }
      this.pages.set(hash, checked);
      this.log(`error page ${hash.slice(0, 12)} stored (${Buffer.byteLength(html)} bytes)`);
    });
  }

  /** Serves a page without writing it (a worker, from its primary; the snapshot at start). */
  adopt(hash: string, html: string): void {
    this.pages.set(hash, checkPage(hash, html));
  }

  list(): string[] {
    return [...this.pages.keys()].sort();
  }

  entries(): Array<{ hash: string; html: string }> {
    return [...this.pages].map(([hash, p]) => ({ hash, html: p.html }));
  }

  /** Refuses a table naming a page this router was never sent, before anything changes. */
  assertComplete(set: RouteSet): void {
    for (const route of set.routes) {
      for (const [status, hash] of Object.entries(route.error_pages ?? {})) {
        if (!this.pages.has(hash)) {
          throw new UserError(`route ${route.service}: error page ${status} (${hash.slice(0, 12)}…) was not sent to the router`, 'PUT /error-pages/:hash first', 'unknown_error_page');
        }
      }
    }
  }

  /** Drops the pages `set` does not name, files included; after a table is live. */
  prune(set: RouteSet): Promise<void> {
    const named = new Set(set.routes.flatMap((r) => Object.values(r.error_pages ?? {})));
    return this.serialize(async () => {
      for (const hash of [...this.pages.keys()]) {
        if (named.has(hash)) continue;
        this.pages.delete(hash);
        if (this.dir) await unlink(join(this.dir, `${hash}.html`)).catch(() => undefined);
      }
    });
  }

  /** The route's page for `status`, rendered, or undefined for the router's own. */
  render(route: Pick<Route, 'error_pages'>, status: number, message?: string): string | undefined {
    const hash = route.error_pages?.[String(status)];
    const page = hash === undefined ? undefined : this.pages.get(hash);
    return page && renderParsedPage(page.parsed, message);
  }
}

function checkPage(hash: string, html: string): { html: string; parsed: ParsedPage } {
  if (!ERROR_PAGE_HASH.test(hash)) throw new UserError('an error page is named by the SHA-256 of its text, 64 hex digits', undefined, 'invalid_error_page');
  const problem = errorPageProblem(html);
  if (problem) throw new UserError(`error page ${hash.slice(0, 12)}… ${problem}`, undefined, 'invalid_error_page');
  if (errorPageHash(html) !== hash) throw new UserError(`error page ${hash.slice(0, 12)}… is not the page of that SHA-256`, undefined, 'invalid_error_page');
  return { html, parsed: parseErrorPage(html) };
}

// Per request: the page for a status of the route it was routed to. Set once
// routed (again when a held request is routed anew), read by every answer.
type PageLookup = (status: number, message?: string) => string | undefined;
const bound = new WeakMap<IncomingMessage, PageLookup>();

export function bindErrorPages(req: IncomingMessage, route: Route, store: ErrorPageStore | undefined): void {
  if (store && route.error_pages) bound.set(req, (status, message) => store.render(route, status, message));
  else bound.delete(req);
}

/**
 * The app's 503 page for a route in maintenance. `{{ .Message }}` is the
 * operator's message; the agent's default one counts as none, so a page's
 * `{{ else }}` text shows, as under kamal-proxy when no message is given.
 */
export function maintenancePageOf(req: IncomingMessage, message: string): string | undefined {
  return routeErrorPage(req, 503, message === DEFAULT_MAINTENANCE_MESSAGE ? '' : message);
}

/** The app's page for this request's route and `status`, or undefined. */
export function routeErrorPage(req: IncomingMessage | undefined, status: number, message?: string): string | undefined {
  return req ? bound.get(req)?.(status, message) : undefined;
}
