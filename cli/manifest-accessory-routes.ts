// Routed accessories checked before any server is contacted: on each server,
// an accessory's hosts must not be routed by a role or another accessory there
// (the agent refuses such a release, the router such a table), and its name
// must not be a role's (they would share the route key `service.name`).

import { ConfigError } from '../shared/errors.js';
import { findRouteClash, type RouteClaim } from '../shared/routes.js';
import type { Plan, PlannedRole } from './config/plan.js';
import { accessoriesOnHost } from './manifest-accessories.js';

export function checkAccessoryRoutes(plan: Plan, rolesOnHost: (plan: Plan, host: string) => PlannedRole[]): void {
  for (const acc of plan.accessories) {
    if (acc.proxy && plan.roles.some((r) => r.role === acc.name)) {
      throw new ConfigError(`accessories/${acc.name}/proxy: a routed accessory cannot share its name with role ${acc.name}`, 'rename the accessory');
    }
  }
  const servers = new Set(plan.roles.flatMap((r) => r.hosts.map((h) => h.host)));
  for (const server of servers) {
    const routed = accessoriesOnHost(plan, server).filter((a) => a.proxy);
    if (routed.length === 0) continue;
    const claims: RouteClaim[] = [
      ...rolesOnHost(plan, server).flatMap((r) => (r.proxy ? [{ owner: `role ${r.role}`, hosts: r.proxy.hosts, prefixes: r.proxy.path_prefixes }] : [])),
      ...routed.map((a) => ({ owner: `accessory ${a.name}`, hosts: a.proxy!.hosts, prefixes: a.proxy!.path_prefixes })),
    ];
    const clash = findRouteClash(claims);
    if (clash) {
      const name = (clash.owner.startsWith('accessory ') ? clash.owner : clash.other).slice('accessory '.length);
      throw new ConfigError(
        `accessories/${name}/proxy/host: ${clash.host} under path prefix ${clash.prefix} is routed by both ${clash.other} and ${clash.owner} on ${server}`,
        'give the accessory its own host',
      );
    }
  }
}
