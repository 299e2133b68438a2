// deploy releases: what each server has released of this service, newest first.

import { DEPLOY_STATES, type ReleaseSummary } from '../../shared/api-types.js';
import { UpstreamError } from '../../shared/errors.js';
import { outdatedAgentError, servicePath, type AgentClient } from '../client.js';
import { fleetFailure, loadFleet, onEveryServer, outcomeJson } from '../fleet.js';
import { renderReleasesTable, type HostReleases } from '../output/releases.js';
import type { CommandContext } from './context.js';

function isSummary(v: unknown): v is ReleaseSummary {
  const r = v as Partial<ReleaseSummary> | null;
  return (
    typeof r === 'object' && r !== null &&
    typeof r.version === 'string' && typeof r.image === 'string' && typeof r.seq === 'number' &&
    typeof r.key_id === 'string' && typeof r.created_at === 'string' && typeof r.current === 'boolean' &&
    (DEPLOY_STATES as readonly unknown[]).includes(r.last_state) &&
    (r.container === null || r.container === 'running' || r.container === 'stopped') &&
    (r.bake_failed === undefined || typeof r.bake_failed === 'boolean')
  );
}

/** The agent's release list, newest first; null when the service was never deployed there. */
export async function readReleases(client: AgentClient, service: string, destination: string): Promise<ReleaseSummary[] | null> {
  const path = servicePath(service, destination, 'releases');
  const { status, body } = await client.json('GET', path, { accept: [404] });
  const list = (body as { releases?: unknown } | undefined)?.releases;
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `the agent on ${client.label} cannot list releases`);
    if (outdated) throw outdated;
    return null;
  }
  if (!Array.isArray(list) || !list.every(isSummary)) throw new UpstreamError(`${client.label} sent a malformed release list`);
  return list;
}

export async function releasesCommand(ctx: CommandContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readReleases(client, service, destination));
  const rows: HostReleases[] = outcomes.map((o) => outcomeJson(o, 'releases') as HostReleases);
  if (ctx.json) ctx.printer.json({ service, destination, servers: rows });
  else ctx.printer.out(renderReleasesTable(rows));
  const failure = fleetFailure(outcomes, 'read the releases');
  if (failure) throw failure;
}
