// Which accessories a NAME|all argument means and which servers each lives on
// (the hosts the config's plan places it on), decided from deploy.yml alone:
// a NAME the config does not have is a usage error before any server is asked.

import { UserError } from '../../shared/errors.js';
import { NAME } from '../../shared/manifest-names.js';
import type { ServerAddress } from '../address.js';
import { planContainers } from '../config/plan.js';
import type { DeployConfig } from '../config/types.js';

export interface AccessoryTarget {
  name: string;
  servers: ServerAddress[];
}

export const ALL = 'all';

/**
 * `NAME` → that accessory; `all` (or no name, where allowed) → every accessory,
 * in the config's order. With `dropped` (remove), a NAME deploy.yml no longer
 * has still means that accessory, on every server: one taken out of the config
 * keeps running until it is removed.
 */
export function accessoryTargets(config: DeployConfig, name: string | undefined, o: { dropped?: boolean } = {}): AccessoryTarget[] {
  const planned = planContainers(config).accessories;
  const names = planned.map((a) => a.name);
  if (o.dropped && name !== undefined && name !== ALL && !names.includes(name) && NAME.test(name)) return [{ name, servers: [...config.servers] }];
  if (planned.length === 0) throw new UserError('deploy.yml has no accessories', 'accessories are declared under `accessories:` in deploy.yml', 'usage');
  const chosen = name === undefined || name === ALL ? planned : planned.filter((a) => a.name === name);
  if (chosen.length === 0) {
    throw new UserError(`no accessory named ${JSON.stringify((name ?? '').slice(0, 70))} in deploy.yml (accessories: ${names.join(', ')})`, 'deploy accessory details shows them', 'usage');
  }
  return chosen.map((acc) => {
    const servers = config.servers.filter((s) => acc.hosts.some((h) => h.toLowerCase() === s.host.toLowerCase()));
    const missing = acc.hosts.filter((h) => !config.servers.some((s) => s.host.toLowerCase() === h.toLowerCase()));
    if (missing.length > 0) {
      throw new UserError(`accessory ${acc.name} is placed on ${missing.join(', ')}, not a server of deploy.yml`, 'add the host to servers:, or place the accessory on one of them', 'usage');
    }
    return { name: acc.name, servers };
  });
}

/** Every server any of the targets lives on, once each, in the config's order. */
export function targetServers(config: DeployConfig, targets: readonly AccessoryTarget[]): ServerAddress[] {
  return config.servers.filter((s) => targets.some((t) => t.servers.includes(s)));
}

/** The servers one accessory (not `all`) is placed on: what `deploy accessory logs|exec NAME` talk to. */
export function accessoryServers(config: DeployConfig, name: string): ServerAddress[] {
  if (name === ALL) throw new UserError('name one accessory, not all', undefined, 'usage');
  return (accessoryTargets(config, name)[0] as AccessoryTarget).servers;
}
