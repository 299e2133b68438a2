// PURE: the router entry for a proxied role of a release, and the key it is
// stored under in the agent's route table.
import { DEFAULT_HEALTH_PATH, type ManifestPayload } from '../../shared/manifest.js';
import type { MaintenanceState, PauseState, Route } from '../../shared/api-types.js';
import { roleOf } from './containers.js';
import { errorPageHashes } from '../../shared/error-pages.js';

/** Proxied roles in a stable order, the primary one first. */
export function proxiedRoles(manifest: ManifestPayload): string[] {
  const names = Object.keys(manifest.roles).filter((r) => roleOf(manifest, r).proxy).sort();
  const primary = names.includes('web') ? 'web' : names[0];
  return primary ? [primary, ...names.filter((n) => n !== primary)] : [];
}

/**
 * The route table holds one route per (service, destination). The primary
 * proxied role uses the service name itself; any further proxied role gets
 * `<service>.<role>` — a dot cannot occur in a service name, so keys never clash.
 */
export function routeKey(manifest: ManifestPayload, role: string): { service: string; destination: string } {
  const primary = proxiedRoles(manifest)[0];
  return {
    service: role === primary ? manifest.service : `${manifest.service}.${role}`,
    destination: manifest.destination,
  };
}

/** The router's `service` field: the route key, `@destination` when there is one. */
export function routeName(manifest: ManifestPayload, role: string): string {
  const key = routeKey(manifest, role);
  return key.destination ? `${key.service}@${key.destination}` : key.service;
}

export function targetAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * undefined for a role the router does not serve. Several addresses (a role's
 * replicas) give a list the router balances over; one gives a plain target,
 * which routers from before lists understand.
 */
export function routeFor(manifest: ManifestPayload, role: string, containerIp: string | readonly string[]): Route | undefined {
  const proxy = roleOf(manifest, role).proxy;
  if (!proxy) return undefined;
  return proxyRoute(routeName(manifest, role), proxy, containerIp, manifest.error_pages);
}

type ProxySpec = NonNullable<ReturnType<typeof roleOf>['proxy']>;

/** The router entry named `service` for a proxy spec (a role's, or a routed accessory's). */
export function proxyRoute(service: string, proxy: Omit<ProxySpec, 'ssl'> & { ssl?: ProxySpec['ssl'] }, containerIp: string | readonly string[], errorPages?: ManifestPayload['error_pages']): Route {
  const targets = (typeof containerIp === 'string' ? [containerIp] : containerIp).map((ip) => targetAddress(ip, proxy.app_port));
  return {
    service,
    hosts: [...proxy.hosts],
    target: targets.length === 1 ? targets[0]! : targets,
    health_path: proxy.healthcheck.path,
    ...(proxy.response_timeout !== undefined ? { response_timeout: proxy.response_timeout } : {}),
    ...(proxy.forward_headers === true ? { forward_headers: true } : {}),
    ...(proxy.path_prefixes
      ? {
          // One prefix travels as a string, as routers before several prefixes expect.
          path_prefix: proxy.path_prefixes.length === 1 ? proxy.path_prefixes[0]! : [...proxy.path_prefixes],
          // Kamal strips the prefix unless told not to.
          strip_path_prefix: proxy.strip_path_prefix ?? true,
        }
      : {}),
    // Kamal buffers both ways unless told not to; the router streams what a route does not say.
    buffering: { ...proxy.buffering, requests: proxy.buffering?.requests ?? true, responses: proxy.buffering?.responses ?? true },
    ...(proxy.logging ? { logging: { ...proxy.logging } } : {}),
    ...(proxy.ssl ? { tls: { redirect: proxy.ssl_redirect ?? true } } : {}),
    // The pages themselves reach the router beside the table (agent/engine/error-pages.ts).
    ...(errorPages ? { error_pages: errorPageHashes(errorPages) } : {}),
  };
}

/**
 * The routes as the router gets them: the stored table plus, per route, its
 * health path and the maintenance and pause flags of its service. Both live in
 * their own tables and are merged only here, so a deploy that rewrites a route
 * during maintenance or a pause keeps them.
 */
export function publishedRoutes(
  routes: readonly Route[],
  maintenance: ReadonlyArray<Pick<MaintenanceState, 'service' | 'destination' | 'message'>>,
  pauses: ReadonlyArray<Pick<PauseState, 'service' | 'destination' | 'timeout'>> = [],
): Route[] {
  const messages = new Map(maintenance.map((m) => [`${m.service}@${m.destination}`, m.message]));
  const timeouts = new Map(pauses.map((p) => [`${p.service}@${p.destination}`, p.timeout]));
  return routes.map((route) => {
    const { service, destination } = routeOwner(route.service);
    const message = messages.get(`${service}@${destination}`);
    const timeout = timeouts.get(`${service}@${destination}`);
    const { maintenance: _stale, pause: _stalePause, ...rest } = route;
    return {
      ...rest,
      // Routes stored before routes carried a health path get the manifest's default.
      health_path: route.health_path ?? DEFAULT_HEALTH_PATH,
      ...(message !== undefined ? { maintenance: { message } } : {}),
      ...(timeout !== undefined ? { pause: { timeout } } : {}),
    };
  });
}

/** The service and destination a router entry `service[.role][@destination]` belongs to. */
export function routeOwner(name: string): { service: string; destination: string } {
  const at = name.lastIndexOf('@');
  const base = at === -1 ? name : name.slice(0, at);
  const dot = base.indexOf('.');
  return { service: dot === -1 ? base : base.slice(0, dot), destination: at === -1 ? '' : name.slice(at + 1) };
}

/** Same routes regardless of order: decides whether the router needs a resend. */
export function sameRoutes(a: readonly Route[], b: readonly Route[]): boolean {
  const canon = (routes: readonly Route[]) =>
    routes
      .map((r) =>
        JSON.stringify([
          r.service, [...r.hosts].sort(), r.target, r.response_timeout ?? null,
          r.health_path ?? null, r.maintenance ? (r.maintenance.message ?? null) : false, r.forward_headers === true,
          r.path_prefix ?? null, r.strip_path_prefix === true, r.buffering?.max_request_body || 0, r.buffering?.max_response_body || 0,
          r.buffering?.requests === true, r.buffering?.responses === true, r.buffering?.memory ?? null,
          r.logging?.request_headers ?? [], r.logging?.response_headers ?? [],
          r.pause?.timeout ?? null,
          r.tls ? r.tls.redirect : null,
        ]),
      )
      .sort();
  const ca = canon(a);
  const cb = canon(b);
  return ca.length === cb.length && ca.every((x, i) => x === cb[i]);
}
