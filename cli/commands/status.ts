// deploy status: what each server runs for this service.

import type { ServiceDetail } from '../../shared/api-types.js';
import { BerthError, UpstreamError } from '../../shared/errors.js';
import { formatServerAddress } from '../address.js';
import type { AgentClient } from '../client.js';
import { loadAppConfig } from './config.js';
import { readKeyFile, resolveKeyPath } from '../keys.js';
import { renderTable } from '../output/table.js';
import { sanitize } from '../output/style.js';
import { connectPinned } from '../pinning.js';
import { mapBounded, stringOption, type CommandContext } from './context.js';

function servicePath(service: string, destination: string): string {
  return `/v1/services/${encodeURIComponent(service)}?destination=${encodeURIComponent(destination)}`;
}

/** The service as the agent sees it, or null when it was never deployed there. */
export async function readService(client: AgentClient, service: string, destination = ''): Promise<(ServiceDetail & { last_deploy?: { state?: unknown } }) | null> {
  const { status, body } = await client.json('GET', servicePath(service, destination), { accept: [404] });
  if (status === 404) return null;
  const detail = (body as { service?: unknown } | undefined)?.service;
  if (typeof detail !== 'object' || detail === null || typeof (detail as ServiceDetail).seq !== 'number') {
    throw new UpstreamError(`${client.label} sent a malformed service record`);
  }
  return detail as ServiceDetail;
}

export async function readServiceSeq(client: AgentClient, service: string, destination = ''): Promise<number> {
  return (await readService(client, service, destination))?.seq ?? 0;
}

interface StatusRow {
  host: string;
  service: Awaited<ReturnType<typeof readService>>;
  error?: string;
}

export function renderStatusTable(rows: StatusRow[]): string {
  return renderTable(
    ['HOST', 'RELEASE', 'SEQ', 'CONTAINERS', 'LAST DEPLOY'],
    rows.map(({ host, service, error }) => {
      if (error !== undefined) return [host, '-', '-', '-', `error: ${sanitize(error, 300)}`];
      if (!service) return [host, '-', '0', '-', 'never deployed'];
      const containers = Array.isArray(service.containers) ? service.containers : [];
      const running = containers.filter((c) => c.state === 'running').length;
      const lastState = typeof service.last_deploy?.state === 'string' ? service.last_deploy.state : service.current ? 'DONE' : '-';
      return [host, sanitize(service.current?.version ?? '-', 130), String(service.seq), `${running} running, ${containers.length - running} stopped`, sanitize(lastState, 40)];
    }),
  );
}

export async function statusCommand(ctx: CommandContext): Promise<void> {
  const { config, appDir } = await loadAppConfig(ctx);
  const key = await readKeyFile(resolveKeyPath(ctx.env, stringOption(ctx, 'key')));
  const causes: unknown[] = [];
  const rows = await mapBounded(config.servers, 8, async (address): Promise<StatusRow> => {
    const host = formatServerAddress(address);
    try {
      const { client } = await connectPinned({ appDir, address, key, trustNew: false });
      return { host, service: await readService(client, config.service, config.destination) };
    } catch (err) {
      causes.push(err);
      return { host, service: null, error: err instanceof Error ? err.message : String(err) };
    }
  });
  if (ctx.json) ctx.printer.json({ service: config.service, servers: rows.map((r) => ({ host: r.host, service: r.service, ...(r.error !== undefined ? { error: r.error } : {}) })) });
  else ctx.printer.out(renderStatusTable(rows));
  const failed = rows.filter((r) => r.error !== undefined);
  if (failed.length === 0) return;
  const [first] = causes;
  if (failed.length === 1 && first instanceof BerthError) throw first;
  throw new UpstreamError(`could not read the status of ${failed.length} of ${rows.length} servers: ${failed.map((f) => f.host).join(', ')}`);
}
