// PURE: the router entry for a proxied role of a release, and the key it is
// stored under in the agent's route table.
import type { ManifestPayload } from '../../shared/manifest.js';
import type { Route } from '../../shared/api-types.js';
import { roleOf } from './containers.js';

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

/** undefined for a role the router does not serve. */
export function routeFor(manifest: ManifestPayload, role: string, containerIp: string): Route | undefined {
  const proxy = roleOf(manifest, role).proxy;
  if (!proxy) return undefined;
  return {
    service: routeName(manifest, role),
    hosts: [...proxy.hosts],
    target: targetAddress(containerIp, proxy.app_port),
    ...(proxy.response_timeout !== undefined ? { response_timeout: proxy.response_timeout } : {}),
  };
}

/** Same routes regardless of order: decides whether the router needs a resend. */
export function sameRoutes(a: readonly Route[], b: readonly Route[]): boolean {
  const canon = (routes: readonly Route[]) =>
    routes
      .map((r) =>
        JSON.stringify([r.service, [...r.hosts].sort(), r.target, r.path_prefix ?? null, r.response_timeout ?? null]),
      )
      .sort();
  const ca = canon(a);
  const cb = canon(b);
  return ca.length === cb.length && ca.every((x, i) => x === cb[i]);
}
