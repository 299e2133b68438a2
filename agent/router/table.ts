// The route table: a validated RouteSet compiled for lookup by Host and path.
// Pure: no I/O. A table is immutable; the router swaps whole tables.

import { ConflictError, UserError } from '../../shared/errors.js';
import { routePrefixes, routeSetSchema, routeTargets } from '../../shared/routes.js';
import type { Route, RouteSet } from './types.js';

export const DEFAULT_RESPONSE_TIMEOUT_S = 30;

/** Validates untrusted input as a RouteSet; throws UserError naming the field path. */
export function parseRouteSet(input: unknown): RouteSet {
  const result = routeSetSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'route set';
    throw new UserError(`invalid route set: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const set: RouteSet = result.data;
  assertNoDuplicates(set);
  return set;
}

/** Refuses (409 `stale_version`) a route set that is not newer than the live one: the agent resends whole sets with rising versions. */
export function assertNewer(set: RouteSet, liveVersion: number): void {
  if (set.version > liveVersion) return;
  throw new ConflictError(
    `route set version ${set.version} is not newer than the live version ${liveVersion}`,
    'send the full route set with a higher version',
    'stale_version',
  );
}

// Two routes claiming the same host and prefix would make lookup depend on order.
function assertNoDuplicates(set: RouteSet): void {
  const seen = new Map<string, string>();
  set.routes.forEach((route, i) => {
    for (const host of route.hosts) {
      for (const prefix of routePrefixes(route)) {
        const key = `${host} ${prefix}`;
        const other = seen.get(key);
        if (other !== undefined && other !== `${route.service} ${routeTargets(route).join(' ')}`) {
          throw new UserError(`invalid route set: routes.${i}: host ${host} with path prefix ${prefix} is already routed`);
        }
        seen.set(key, `${route.service} ${routeTargets(route).join(' ')}`);
      }
    }
  });
}

/** The Host header reduced to a lower-case name without port or trailing dot. */
export function normalizeHost(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end > 0 ? host.slice(1, end) : '';
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host.length > 0 && host.length <= 253 ? host : undefined;
}

/** A route and the prefix of it that matched (stripped before forwarding with strip_path_prefix). */
export interface RouteMatch {
  readonly prefix: string;
  readonly route: Route;
}
type Entry = RouteMatch;

export interface RouteTable {
  readonly version: number;
  readonly routeSet: RouteSet;
  /** The route for a normalized host and a request path (query allowed), or undefined. */
  lookup(host: string, path: string): Route | undefined;
  /** Like lookup, with the prefix that matched. */
  match(host: string, path: string): RouteMatch | undefined;
  /** Every distinct target currently routed. */
  targets(): string[];
}

export function buildTable(set: RouteSet): RouteTable {
  const exact = new Map<string, Entry[]>();
  const wildcard = new Map<string, Entry[]>(); // keyed by suffix including the dot: ".example.com"
  const catchAll: Entry[] = [];
  for (const route of set.routes) {
    for (const prefix of routePrefixes(route)) {
      const entry: Entry = { prefix, route };
      for (const host of route.hosts) {
        if (host === '*') catchAll.push(entry);
        else if (host.startsWith('*.')) push(wildcard, host.slice(1), entry);
        else push(exact, host, entry);
      }
    }
  }
  for (const list of [...exact.values(), ...wildcard.values(), catchAll]) {
    list.sort((a, b) => b.prefix.length - a.prefix.length);
  }
  const targets = [...new Set(set.routes.flatMap((r) => routeTargets(r)))];

  const match = (host: string, rawPath: string): Entry | undefined => {
    const path = pathOnly(rawPath);
    // Most specific host first; fall through to wider hosts when no prefix matches.
    const found = matchPrefix(exact.get(host), path);
    if (found) return found;
    // Longest suffix first: `.b.example.com` before `.example.com`.
    for (let dot = host.indexOf('.'); dot > 0; dot = host.indexOf('.', dot + 1)) {
      const hit = matchPrefix(wildcard.get(host.slice(dot)), path);
      if (hit) return hit;
    }
    return matchPrefix(catchAll, path);
  };
  return {
    version: set.version,
    routeSet: set,
    targets: () => [...targets],
    lookup: (host, path) => match(host, path)?.route,
    match,
  };
}

export const EMPTY_ROUTE_SET: RouteSet = Object.freeze({ version: 0, routes: [] }) as RouteSet;

function push(map: Map<string, Entry[]>, key: string, entry: Entry): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

/** True when the request path (query ignored) is the route's health path: it is served even in maintenance. */
export function isHealthPath(route: Route, rawPath: string): boolean {
  return route.health_path !== undefined && pathOnly(rawPath) === pathOnly(route.health_path);
}

function pathOnly(raw: string): string {
  const q = raw.search(/[?#]/);
  return q >= 0 ? raw.slice(0, q) : raw;
}

// Prefixes match at segment boundaries: `/api` serves `/api` and `/api/x`, not `/apix`.
function matchPrefix(entries: Entry[] | undefined, path: string): Entry | undefined {
  if (!entries) return undefined;
  for (const entry of entries) {
    const { prefix } = entry;
    if (prefix.endsWith('/') ? path.startsWith(prefix) || path === prefix.slice(0, -1) : path === prefix || path.startsWith(`${prefix}/`)) {
      return entry;
    }
  }
  return undefined;
}
