// deploy releases: what each server has released of this service, newest first.

import { DEPLOY_STATES, type ReleaseSummary } from '../../shared/api-types.js';
import { BerthError, UpstreamError } from '../../shared/errors.js';
import { formatServerAddress } from '../address.js';
import type { AgentClient } from '../client.js';
import { readKeyFile, resolveKeyPath } from '../keys.js';
import { renderReleasesTable, type HostReleases } from '../output/releases.js';
import { connectPinned } from '../pinning.js';
import { loadAppConfig } from './config.js';
import { mapBounded, stringOption, type CommandContext } from './context.js';

function isSummary(v: unknown): v is ReleaseSummary {
  const r = v as Partial<ReleaseSummary> | null;
  return (
    typeof r === 'object' && r !== null &&
    typeof r.version === 'string' && typeof r.image === 'string' && typeof r.seq === 'number' &&
    typeof r.key_id === 'string' && typeof r.created_at === 'string' && typeof r.current === 'boolean' &&
    (DEPLOY_STATES as readonly unknown[]).includes(r.last_state) &&
    (r.container === null || r.container === 'running' || r.container === 'stopped')
  );
}

/** The agent's release list, newest first; null when the service was never deployed there. */
export async function readReleases(client: AgentClient, service: string, destination: string): Promise<ReleaseSummary[] | null> {
  const path = `/v1/services/${encodeURIComponent(service)}/releases?destination=${encodeURIComponent(destination)}`;
  const { status, body } = await client.json('GET', path, { accept: [404] });
  const list = (body as { releases?: unknown } | undefined)?.releases;
  if (status === 404) {
    // An agent without this endpoint answers 404 too, but without a release list to speak of.
    if (/no route for/.test(String((body as { error?: { message?: unknown } } | undefined)?.error?.message ?? ''))) {
      throw new UpstreamError(`the agent on ${client.label} cannot list releases`, `upgrade the agent on ${client.label}`, 'agent_outdated');
    }
    return null;
  }
  if (!Array.isArray(list) || !list.every(isSummary)) throw new UpstreamError(`${client.label} sent a malformed release list`);
  return list;
}

export async function releasesCommand(ctx: CommandContext): Promise<void> {
  const { config, appDir } = await loadAppConfig(ctx);
  const key = await readKeyFile(resolveKeyPath(ctx.env, stringOption(ctx, 'key')));
  const causes: unknown[] = [];
  const rows = await mapBounded(config.servers, 8, async (address): Promise<HostReleases> => {
    const host = formatServerAddress(address);
    try {
      const { client } = await connectPinned({ appDir, address, key, trustNew: false });
      return { host, releases: await readReleases(client, config.service, config.destination) };
    } catch (err) {
      causes.push(err);
      return { host, releases: null, error: err instanceof Error ? err.message : String(err) };
    }
  });
  if (ctx.json) ctx.printer.json({ service: config.service, destination: config.destination, servers: rows });
  else ctx.printer.out(renderReleasesTable(rows));
  const failed = rows.filter((r) => r.error !== undefined);
  if (failed.length === 0) return;
  const [first] = causes;
  if (failed.length === 1 && first instanceof BerthError) throw first;
  throw new UpstreamError(`could not read the releases of ${failed.length} of ${rows.length} servers: ${failed.map((f) => f.host).join(', ')}`);
}
