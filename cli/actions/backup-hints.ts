// After a rollback to VERSION, the data may be newer than the code: for each
// server taking backups, the newest good backup taken while VERSION was live
// is worth a hint (never restored without being asked). Servers that cannot
// be asked give no hint; the rollback itself already succeeded.

import { readBackups } from '../agent-api/backup-endpoints.js';
import { sanitize } from '../output/style.js';
import { onEveryServer, type Fleet } from '../rollout/fleet.js';
import { backupServers } from './backup.js';

export async function restoreHints(fleet: Fleet, version: string): Promise<string[]> {
  if (Object.keys(fleet.config.backups ?? {}).length === 0) return [];
  const { service, destination } = fleet.config;
  const servers = backupServers(fleet.config, undefined, undefined);
  const outcomes = await onEveryServer(fleet, (client) => readBackups(client, { service, destination }, { limit: 500 }), { servers });
  const lines: string[] = [];
  for (const o of outcomes) {
    if (!o.ok || !o.value) continue;
    const carried = new Set(o.value.backups.map((b) => b.name));
    for (const name of carried) {
      const r = o.value.records.find((rec) => rec.backup === name && rec.outcome === 'ok' && rec.stored && rec.release === version);
      if (!r) continue;
      const b = sanitize(name, 80);
      lines.push(`backup ${b} #${r.id} on ${o.host} was taken while ${version} was live: deploy backup restore ${b} ${r.id} --host ${o.host}`);
    }
  }
  return lines;
}
