// deploy backup list|run: the backups of the service, asked of the servers
// that take them. Which servers take a backup is decided from deploy.yml
// alone (its accessory's hosts, or its role's): a NAME the config does not
// have is a usage error before any server is asked. IDs are per server.

import type { BackupRecord } from '../../shared/api-types.js';
import { UpstreamError, UserError } from '../../shared/errors.js';
import { NAME } from '../../shared/manifest-names.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import { readBackups, runBackup } from '../agent-api/backup-endpoints.js';
import type { RunContext } from '../command.js';
import { planContainers } from '../config/plan.js';
import type { DeployConfig } from '../config/types.js';
import { backupHosts } from '../manifest-backups.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson } from '../rollout/hosts.js';
import { eventLine, renderBackupList, runSummary, type HostBackups } from './backup-render.js';

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 500;

/** A NAME argument: a backup deploy.yml has; anything else is a usage error. */
export function checkBackupName(config: DeployConfig, name: string): string {
  const names = Object.keys(config.backups ?? {});
  if (names.length === 0) throw new UserError('deploy.yml has no backups', 'backups are declared under `backups:` (or x-berth/backups) in deploy.yml', 'usage');
  if (!NAME.test(name) || !names.includes(name)) {
    throw new UserError(`no backup named ${JSON.stringify(name.slice(0, 70))} in deploy.yml (backups: ${names.join(', ')})`, 'deploy backup list shows them', 'usage');
  }
  return name;
}

/** The server `--host` names (HOST or HOST:PORT as in servers:), or a usage error. */
export function chooseServer(config: DeployConfig, host: string, among: readonly ServerAddress[] = config.servers): ServerAddress {
  const found = among.find((s) => formatServerAddress(s) === host || s.host.toLowerCase() === host.toLowerCase());
  if (!found) throw new UserError(`--host ${host.slice(0, 100)} is not one of ${among.map(formatServerAddress).join(', ') || 'no server'}`, undefined, 'usage');
  return found;
}

/** The servers that take backup `name` (all servers that take any, without one), narrowed to `--host`. */
export function backupServers(config: DeployConfig, name: string | undefined, host: string | undefined): ServerAddress[] {
  const plan = planContainers(config);
  const names = name === undefined ? Object.keys(config.backups ?? {}) : [name];
  const hosts = new Set(names.flatMap((n) => backupHosts(config, plan, n)));
  const servers = name === undefined && hosts.size === 0 ? config.servers : config.servers.filter((s) => hosts.has(formatServerAddress(s)));
  return host === undefined ? servers : [chooseServer(config, host, servers)];
}

export function limitOf(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw new UserError(`--limit must be a whole number from 1 to ${MAX_LIMIT}, not "${raw.slice(0, 20)}"`, undefined, 'usage');
  return n;
}

export async function backupList(ctx: RunContext, options: { name: string | undefined; limit: string | undefined }): Promise<void> {
  const limit = limitOf(options.limit);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const name = options.name === undefined ? undefined : checkBackupName(fleet.config, options.name);
  const servers = backupServers(fleet.config, name, undefined);
  const outcomes = await onEveryServer(fleet, (client) => readBackups(client, { service, destination }, { ...(name ? { backup: name } : {}), limit }), { servers });
  const rows = outcomes.map((o) => outcomeJson(o, 'backups') as HostBackups);
  if (ctx.json) ctx.printer.json({ service, destination, backup: name ?? null, servers: rows });
  else ctx.printer.out(renderBackupList(rows, ctx.style));
  const failure = hostsFailure(outcomes, { doing: 'read the backups' });
  if (failure) throw failure;
}

/** Runs backup NAME now on every server that takes it (or `--host`); 1 when any run did not end ok. */
export async function backupRun(ctx: RunContext, options: { name: string; host: string | undefined }): Promise<number> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const name = checkBackupName(fleet.config, options.name);
  const servers = backupServers(fleet.config, name, options.host);
  if (servers.length === 0) throw new UserError(`no server of deploy.yml takes backup ${name}`, undefined, 'usage');
  const outcomes = await onEveryServer(fleet, async (client, host) => {
    let ended: BackupRecord | undefined;
    for await (const e of runBackup(client, { service, destination }, name)) {
      if (ctx.json) ctx.printer.json({ host, ...e });
      else ctx.printer.err(eventLine(host, e));
      if (e.event === 'ended') ended = e.record;
    }
    if (!ended) throw new UpstreamError(`${host}: the run's events ended without its result`);
    if (!ctx.json) ctx.printer.out(runSummary(host, ended, ctx.style));
    return ended;
  }, { servers });
  const failure = hostsFailure(outcomes, { doing: `run backup ${name}` });
  if (failure) throw failure;
  return outcomes.every((o) => o.ok && o.value.outcome === 'ok') ? 0 : 1;
}
