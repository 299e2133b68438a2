// Routed accessories (manifest accessories.<name>.proxy, Kamal's "accessory
// behind the proxy"): once the container answers its health check, its hosts
// go to the container's address in the agent's route table, under the key
// `service.name`, beside the roles' routes. Being in that table is what keeps
// the route through app deploys, the periodic sync and agent restarts. Stop
// and remove take the route out before the container goes.
import { UnhealthyError, UserError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { routeTargets, type Route } from '../../shared/routes.js';
import { accessoryOf } from '../core/accessories.js';
import { proxyRoute } from '../core/routes.js';
import type { DockerPort } from '../docker.js';
import { waitHttpHealthy } from '../engine/health.js';
import type { HealthProbe } from '../http-probe.js';
import type { Store } from '../store/index.js';
import type { TlsService } from '../tls/service.js';

/** What routing needs of the agent: the route table, its publisher, certificates. */
export interface AccessoryRouting {
  routes: Pick<Store['routes'], 'all' | 'set'>;
  /** Sends the whole route table to the router (the engine's publisher). */
  publish(): Promise<unknown>;
  tls?: Pick<TlsService, 'prepare'> | undefined;
  probe?: HealthProbe | undefined;
}

/** `service.name`: the manifest refuses a routed accessory named like a role, so keys never meet. */
export function accessoryRouteKey(m: Pick<ManifestPayload, 'service' | 'destination'>, name: string): { service: string; destination: string } {
  return { service: `${m.service}.${name}`, destination: m.destination };
}

function routeName(m: Pick<ManifestPayload, 'service' | 'destination'>, name: string): string {
  const key = accessoryRouteKey(m, name);
  return key.destination ? `${key.service}@${key.destination}` : key.service;
}

function storedRoute(routing: AccessoryRouting, m: ManifestPayload, name: string): Route | undefined {
  const service = routeName(m, name);
  return routing.routes.all().find((r) => r.service === service);
}

/**
 * Routes the running accessory when the release gives it a proxy: waits until
 * its health check answers 2xx (up to deploy_timeout), gets certificates for
 * ssl, then publishes. Without a proxy a route left from an earlier release
 * goes. When the router refuses the table, the route is taken back out.
 */
export async function routeAccessory(routing: AccessoryRouting, docker: DockerPort, m: ManifestPayload, name: string, containerId: string, say?: (message: string) => void): Promise<void> {
  const proxy = accessoryOf(m, name)?.proxy;
  if (!proxy) return unrouteAccessory(routing, m, name);
  const info = await docker.inspect(containerId);
  if (!info?.running || !info.ip) throw new UnhealthyError(`accessory ${name}: container ${info?.name ?? containerId} is not running with an address, so it cannot be routed`);
  const checkAlive = async () => {
    const now = await docker.inspect(containerId);
    if (!now?.running) throw new UnhealthyError(`accessory ${name}: container ${info.name} stopped (${now?.state ?? 'gone'}) before it became healthy`, `deploy accessory logs ${name}`);
  };
  const service = routeName(m, name);
  const route = proxyRoute(service, proxy, info.ip);
  const previous = storedRoute(routing, m, name) ?? null;
  // Already served as this release says (a deploy of the app, a start of a running one): nothing to wait for.
  if (previous && JSON.stringify(previous) === JSON.stringify(route)) return;
  await waitHttpHealthy({
    host: info.ip, port: proxy.app_port, path: proxy.healthcheck.path, intervalSeconds: proxy.healthcheck.interval,
    requestTimeoutSeconds: proxy.healthcheck.timeout, timeoutSeconds: m.deploy_timeout, checkAlive, probe: routing.probe,
  });
  if (proxy.ssl) {
    if (!routing.tls) throw new UserError(`accessory ${name}: this agent cannot serve HTTPS (no certificate service)`, undefined, 'certificate_failed');
    await routing.tls.prepare({ service: m.service, destination: m.destination, routeName: service, hosts: [...proxy.hosts] }, (message) => say?.(`accessory ${name}: ${message}`));
  }
  const key = accessoryRouteKey(m, name);
  routing.routes.set(key.service, key.destination, route);
  try {
    await routing.publish();
  } catch (err) {
    // A table the router refuses must not stay in the store: the periodic sync would keep sending it.
    routing.routes.set(key.service, key.destination, previous);
    throw err;
  }
  say?.(`accessory ${name}: routed ${proxy.hosts.join(', ')} to ${routeTargets(route).join(' ')}`);
}

/** Takes the accessory's route out and publishes; a router that is down gets the table from the periodic sync. */
export async function unrouteAccessory(routing: AccessoryRouting, m: Pick<ManifestPayload, 'service' | 'destination'>, name: string): Promise<void> {
  const service = routeName(m, name);
  if (!routing.routes.all().some((r) => r.service === service)) return;
  const key = accessoryRouteKey(m, name);
  routing.routes.set(key.service, key.destination, null);
  await routing.publish().catch(() => undefined);
}

/**
 * At agent start: a routed accessory Docker restarted on another address gets
 * its route repointed (published by the reconcile's closing sync). Only routes
 * that exist move: a stopped accessory stays unrouted.
 */
export async function repointAccessoryRoutes(routes: Pick<Store['routes'], 'all' | 'set'>, m: ManifestPayload, find: (name: string) => Promise<{ running: boolean; ip: string | null } | undefined>): Promise<void> {
  for (const [name, spec] of Object.entries(m.accessories ?? {})) {
    if (!spec.proxy) continue;
    const service = routeName(m, name);
    const existing = routes.all().find((r) => r.service === service);
    if (!existing) continue;
    const info = await find(name);
    if (!info?.running || !info.ip) continue;
    const route = proxyRoute(service, spec.proxy, info.ip);
    if (routeTargets(existing).join(' ') === routeTargets(route).join(' ')) continue;
    const key = accessoryRouteKey(m, name);
    routes.set(key.service, key.destination, route);
  }
}
