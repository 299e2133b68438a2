// PURE: the route table's shape, one schema for both sides of the router's
// control socket: the agent builds RouteSets, the router validates what it is
// sent, and the types are derived from the schema so the two cannot drift.
import { isIPv4, isIPv6 } from './ip.js';
import { z } from 'zod';
import { maintenanceMessageSchema } from './maintenance.js';
import { ERROR_PAGE_HASH, ERROR_PAGE_STATUS, MAX_ERROR_PAGES } from './error-pages.js';

export const MAX_ROUTES = 10_000;
/** kamal-proxy's default for `pause --max-pause`: how long a held request waits before 504. */
export const DEFAULT_PAUSE_TIMEOUT_S = 30;
export const MAX_PAUSE_TIMEOUT_S = 3600;
export const MAX_HOSTS_PER_ROUTE = 100;
export const MAX_PREFIXES_PER_ROUTE = 20;
/** Containers one route balances over (a role with several containers on one server). */
export const MAX_TARGETS_PER_ROUTE = 64;
/** The most one buffered body may hold in memory (`buffering.memory`); more goes to disk. */
export const MAX_BUFFER_MEMORY = 1024 * 1024 * 1024;

const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = `${HOST_LABEL}(?:\\.${HOST_LABEL})*`;
// `*` alone is the catch-all; `*.example.com` matches any subdomain, not the apex.
const HOST_PATTERN = new RegExp(`^(?:\\*|(?:\\*\\.)?${HOST_NAME})$`);
const NAME = '[a-z0-9][a-z0-9_-]{0,62}';
// The agent's route key: `service`, `service.role` for further proxied roles, `@destination` when set.
const SERVICE_PATTERN = new RegExp(`^${NAME}(?:\\.${NAME})?(?:@${NAME})?$`);
// Visible ASCII without query/fragment markers, so the prefix compares against a bare path.
const PATH_PREFIX_PATTERN = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]{0,1023}$/;
// A health check path as the manifest allows it (a query may follow); compared without its query.
const HEALTH_PATH_PATTERN = /^\/[\x21-\x7e]{0,1023}$/;

const pathPrefixSchema = z.string().regex(PATH_PREFIX_PATTERN, 'must start with / and hold no spaces, ? or #');

const headerNameSchema = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be an HTTP header name');

const hostSchema = z
  .string()
  .max(253)
  .transform((h) => h.toLowerCase())
  .refine((h) => HOST_PATTERN.test(h), { message: 'must be a host name, `*.domain` or `*`' });

const targetSchema = z
  .string()
  .max(64)
  .refine((t) => splitTarget(t) !== undefined, { message: 'must be IP:PORT (IPv6 as [addr]:port)' });

export const routeSchema = z.strictObject({
  service: z.string().regex(SERVICE_PATTERN, 'must be service[.role][@destination]'),
  hosts: z.array(hostSchema).min(1).max(MAX_HOSTS_PER_ROUTE),
  /** 'IP:PORT' of the container, or of each container the route balances over (round robin). */
  target: z.union([
    targetSchema,
    z
      .array(targetSchema)
      .min(1)
      .max(MAX_TARGETS_PER_ROUTE)
      .refine((list) => new Set(list).size === list.length, { message: 'must not name a target twice' }),
  ]),
  /** One prefix, or several served alike (Kamal's path_prefixes); none means every path (`/`). */
  path_prefix: z.union([pathPrefixSchema, z.array(pathPrefixSchema).min(1).max(MAX_PREFIXES_PER_ROUTE)]).optional(),
  response_timeout: z.number().positive().max(3600).optional(),
  /** Trust the client's Forwarded / X-Forwarded-* (a proxy in front sets them); otherwise the router replaces them. */
  forward_headers: z.boolean().optional(),
  /** Requests for this path (query ignored) reach the target even in maintenance, so health checks still pass. */
  health_path: z.string().regex(HEALTH_PATH_PATTERN, 'must start with / and hold no spaces or control characters').optional(),
  /** Forward the path with the matched prefix removed (Kamal's strip_path_prefix). */
  strip_path_prefix: z.boolean().optional(),
  /**
   * Kamal's buffering. Body limits in bytes: a larger request body is refused
   * with 413, a larger answer with 502; 0 or absent means no limit. With
   * `requests`/`responses` bodies are read whole (in memory up to `memory`
   * bytes, then on disk) before they are passed on; absent means streamed.
   */
  buffering: z
    .strictObject({
      max_request_body: z.number().int().min(0).max(2 ** 50).optional(),
      max_response_body: z.number().int().min(0).max(2 ** 50).optional(),
      requests: z.boolean().optional(),
      responses: z.boolean().optional(),
      memory: z.number().int().min(0).max(MAX_BUFFER_MEMORY).optional(),
    })
    .optional(),
  /** The request log line of this route also carries these headers (cookies and authorization redacted). */
  logging: z
    .strictObject({
      request_headers: z.array(headerNameSchema).max(50).optional(),
      response_headers: z.array(headerNameSchema).max(50).optional(),
    })
    .optional(),
  /** Served over HTTPS with a certificate the agent provides; plain HTTP is redirected unless `redirect` is false. */
  tls: z.strictObject({ redirect: z.boolean() }).optional(),
  /** While set, new requests are held (up to `timeout` seconds each, then 504) until the route is sent without it. */
  pause: z.strictObject({ timeout: z.number().positive().max(MAX_PAUSE_TIMEOUT_S) }).optional(),
  /** The app's pages for the router's own answers (Kamal's error_pages_path): status → SHA-256 of a page the router was sent (PUT /error-pages/:hash). */
  error_pages: z
    .record(z.string().regex(ERROR_PAGE_STATUS, 'must be an HTTP status 400-599'), z.string().regex(ERROR_PAGE_HASH, 'must be a SHA-256 in hex'))
    .refine((pages) => Object.keys(pages).length <= MAX_ERROR_PAGES, `at most ${MAX_ERROR_PAGES} pages`)
    .optional(),
  /** While set, every other request gets 503 with the message (the default one when absent). */
  maintenance: z
    .strictObject({
      message: maintenanceMessageSchema.optional(),
    })
    .optional(),
});

export const routeSetSchema = z.strictObject({
  version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  routes: z.array(routeSchema).max(MAX_ROUTES),
});

export type Route = z.output<typeof routeSchema>;
export type RouteSet = z.output<typeof routeSetSchema>;

/** The path prefixes a route serves: `/` (every path) when it names none. */
export function routePrefixes(route: Pick<Route, 'path_prefix'>): string[] {
  const p = route.path_prefix;
  return p === undefined ? ['/'] : typeof p === 'string' ? [p] : [...p];
}

/** The targets a route balances over, in order: one for a single container. */
export function routeTargets(route: Pick<Route, 'target'>): readonly string[] {
  return typeof route.target === 'string' ? [route.target] : route.target;
}

/** `IP:PORT` → parts, or undefined when malformed. */
export function splitTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] !== undefined ? !isIPv6(host) : !isIPv4(host)) return undefined;
  return { host, port };
}

/** Who routes which hosts under which path prefixes (absent: every path). */
export interface RouteClaim {
  owner: string;
  hosts: readonly string[];
  prefixes?: readonly string[];
}

export interface RouteClash {
  host: string;
  prefix: string;
  owner: string;
  other: string;
}

/**
 * The first host and path prefix that two owners both claim, as kamal-proxy
 * refuses them: the same host (exact, lower-cased) and the same prefix
 * (`/api/` and `/api` count as one, since the longer would shadow the other).
 * Different prefixes share a host; the longest match wins at request time.
 */
export function findRouteClash(claims: readonly RouteClaim[]): RouteClash | undefined {
  const seen = new Map<string, { owner: string; host: string }>();
  for (const claim of claims) {
    for (const host of claim.hosts) {
      for (const prefix of claim.prefixes?.length ? claim.prefixes : ['/']) {
        const key = `${host.toLowerCase()} ${prefix.replace(/\/+$/, '') || '/'}`;
        const held = seen.get(key);
        if (held && held.owner !== claim.owner) return { host: held.host, prefix, owner: claim.owner, other: held.owner };
        if (!held) seen.set(key, { owner: claim.owner, host });
      }
    }
  }
  return undefined;
}
