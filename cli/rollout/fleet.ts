// The "every server of this app" loop of the commands that ask each agent
// something: load deploy.yml and the key, connect to every server pinned, and
// run one task per server on the host loop (hosts.ts).

import { UserError } from '../../shared/errors.js';
import type { ServiceDetail } from '../../shared/service-detail.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import type { AgentClient } from '../agent-api/client.js';
import { readService } from '../agent-api/endpoints.js';
import type { KnownAgent } from '../agent-api/known-agents.js';
import { connectPinned } from '../agent-api/pinning.js';
import { loadAppConfig, readOperatorKey } from '../app-config.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/schema.js';
import type { OperatorKeyFile } from '../keys.js';
import { onEachHost, settle, type HostOutcome } from './hosts.js';

export interface Fleet {
  config: DeployConfig;
  appDir: string;
  key: OperatorKeyFile;
}

/** deploy.yml (-c, -d) and the operator key, as every fleet command needs them. */
export async function loadFleet(ctx: RunContext): Promise<Fleet> {
  const { config, appDir } = await loadAppConfig(ctx);
  const key = await readOperatorKey(ctx);
  return { config, appDir, key };
}

export interface EveryServerOptions<T> {
  /** Default: every server of the config. */
  servers?: readonly ServerAddress[];
  /** Servers asked at once (default MAX_PARALLEL_SERVERS). */
  limit?: number;
  timeoutMs?: number;
  /** Called as each server's outcome is known, for output that shows progress. */
  onOutcome?: (outcome: HostOutcome<T>) => void;
}

/** Runs `task` against every server (pinned, never trusting new ones); outcomes keep the config's order. */
export function onEveryServer<T>(
  fleet: Fleet,
  task: (client: AgentClient, host: string, pin: KnownAgent) => Promise<T>,
  options: EveryServerOptions<T> = {},
): Promise<Array<HostOutcome<T>>> {
  return onEachHost(options.servers ?? fleet.config.servers, (address) => {
    const host = formatServerAddress(address);
    return settle(host, async () => {
      const { client, pin } = await connectPinned({
        appDir: fleet.appDir, address, key: fleet.key, trustNew: false,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
      return task(client, host, pin);
    });
  }, {
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
  });
}

/** The servers a role runs on (all servers without one); a role the config does not have is a usage error. */
export function serversOf(config: DeployConfig, role: string | undefined): ServerAddress[] {
  if (role === undefined) return config.servers;
  const found = config.roles.find((r) => r.name === role);
  if (!found) throw new UserError(`role ${role} is not in the config (roles: ${config.roles.map((r) => r.name).join(', ')})`, undefined, 'usage');
  return found.hosts.map((h) => h.address);
}

/** Every server's view of the service (null where it was never deployed); what status and details show. */
export async function readFleetServices(ctx: RunContext): Promise<{ service: string; destination: string; outcomes: Array<HostOutcome<ServiceDetail | null>> }> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readService(client, { service, destination }));
  return { service, destination, outcomes };
}
