// The backups of one host's manifest: a backup with an accessory goes where
// that accessory runs, one without to the hosts of its role. Writers are app
// roles the agent stops during a restore; the config check made sure they run
// on every host the backup lands on.

import type { ManifestInput } from '../shared/manifest.js';
import type { DeployConfig } from './config/types.js';
import type { Plan } from './config/plan.js';
import { accessoriesOnHost } from './manifest-accessories.js';

type ManifestBackups = NonNullable<ManifestInput['backups']>;

/** Whether backup `name` is taken on `host` (HOST or HOST:PORT as written in servers:). */
export function carriesBackup(config: Pick<DeployConfig, 'backups'>, plan: Plan, host: string, name: string): boolean {
  const backup = config.backups?.[name];
  if (!backup) return false;
  if (backup.accessory !== undefined) return accessoriesOnHost(plan, host).some((a) => a.name === backup.accessory);
  return plan.roles.some((r) => r.role === backup.role && r.hosts.some((h) => h.host === host));
}

/** The hosts of servers: (as written) that take backup `name`, in the plan's order. */
export function backupHosts(config: Pick<DeployConfig, 'backups'>, plan: Plan, name: string): string[] {
  const hosts = [...new Set(plan.roles.flatMap((r) => r.hosts.map((h) => h.host)))];
  return hosts.filter((host) => carriesBackup(config, plan, host, name));
}

export function manifestBackups(config: Pick<DeployConfig, 'backups'>, plan: Plan, host: string): ManifestBackups | undefined {
  const out: ManifestBackups = {};
  for (const [name, backup] of Object.entries(config.backups ?? {})) {
    if (!carriesBackup(config, plan, host, name)) continue;
    const { role: _role, ...spec } = backup;
    out[name] = {
      ...spec,
      ...(spec.dump ? { dump: [...spec.dump] } : {}),
      ...(spec.restore ? { restore: [...spec.restore] } : {}),
      ...(spec.verify ? { verify: [...spec.verify] } : {}),
      writers: [...spec.writers],
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Features the release of `host` needs for its backups: backups.v1 only where backups are taken. */
export function backupFeatures(config: Pick<DeployConfig, 'backups'>, plan: Plan, host: string): string[] {
  return Object.keys(config.backups ?? {}).some((name) => carriesBackup(config, plan, host, name)) ? ['backups.v1'] : [];
}
