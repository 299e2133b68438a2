// deploy status: what each server runs for this service, one row per server.

import type { OperatorLock } from '../../shared/api-types.js';
import { UpstreamError } from '../../shared/errors.js';
import { serviceDetailResponseSchema, type ServiceDetail } from '../../shared/service-detail.js';
import { servicePath, type AgentClient } from '../client.js';
import { fleetFailure, loadFleet, onEveryServer, outcomeJson, type HostOutcome } from '../fleet.js';
import { renderTable } from '../output/table.js';
import { sanitize, shortKey } from '../output/style.js';
import type { CommandContext } from './context.js';

/** What GET /v1/services/:name answers; `lock`, `maintenance` and `last_deploy` only from agents that know them. */
export type ServiceView = ServiceDetail;

/** The service as the agent sees it, or null when it was never deployed there. */
export async function readService(client: AgentClient, service: string, destination = ''): Promise<ServiceView | null> {
  const { status, body } = await client.json('GET', servicePath(service, destination), { accept: [404] });
  if (status === 404) return null;
  const parsed = serviceDetailResponseSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamError(`${client.label} sent a malformed service record`);
  return parsed.data.service;
}

export async function readServiceSeq(client: AgentClient, service: string, destination = ''): Promise<number> {
  return (await readService(client, service, destination))?.seq ?? 0;
}

interface StatusRow {
  host: string;
  service: ServiceView | null;
  error?: string;
}

/** `KEY (comment)` of a lock's holder, for one table cell. */
export function lockHolder(lock: OperatorLock): string {
  const comment = lock.key_comment !== undefined ? ` (${lock.key_comment})` : '';
  return sanitize(`${shortKey(lock.key_id)}${comment}`, 80);
}

function lockCell(service: ServiceView | null): string {
  const lock = service?.lock;
  return lock ? `locked by ${lockHolder(lock)}` : '-';
}

function maintenanceCell(service: ServiceView | null): string {
  const m = service?.maintenance;
  return m ? `on${m.message ? `: ${sanitize(m.message, 60)}` : ''}` : '-';
}

/**
 * The newest deploy's state, with its version when that is not the one served
 * (a failed or unfinished deploy of another release). Older agents do not send
 * it: '-' rather than a guess.
 */
export function lastDeployCell(service: ServiceView): string {
  const last = service.last_deploy;
  if (!last) return '-';
  return last.version === service.current?.version ? last.state : `${last.state} (${sanitize(last.version, 130)})`;
}

export function renderStatusTable(rows: StatusRow[]): string {
  // Older agents send neither field: no column rather than a column of dashes that means "unknown".
  const withLock = rows.some((r) => r.service !== null && r.service.lock !== undefined);
  const withMaintenance = rows.some((r) => r.service !== null && r.service.maintenance !== undefined);
  const extra = (service: ServiceView | null): string[] => [
    ...(withLock ? [lockCell(service)] : []),
    ...(withMaintenance ? [maintenanceCell(service)] : []),
  ];
  return renderTable(
    ['HOST', 'RELEASE', 'SEQ', 'CONTAINERS', ...(withLock ? ['LOCK'] : []), ...(withMaintenance ? ['MAINTENANCE'] : []), 'LAST DEPLOY'],
    rows.map(({ host, service, error }) => {
      if (error !== undefined) return [host, '-', '-', '-', ...extra(null), `error: ${sanitize(error, 300)}`];
      if (!service) return [host, '-', '0', '-', ...extra(null), 'never deployed'];
      const running = service.containers.filter((c) => c.state === 'running').length;
      return [host, sanitize(service.current?.version ?? '-', 130), String(service.seq), `${running} running, ${service.containers.length - running} stopped`, ...extra(service), lastDeployCell(service)];
    }),
  );
}

/** Every server's view of the service; shared by status and details. */
export async function readFleetServices(ctx: CommandContext): Promise<{ service: string; destination: string; outcomes: Array<HostOutcome<ServiceView | null>> }> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readService(client, service, destination));
  return { service, destination, outcomes };
}

function statusRows(outcomes: Array<HostOutcome<ServiceView | null>>): StatusRow[] {
  return outcomes.map((o) => (o.ok ? { host: o.host, service: o.value } : { host: o.host, service: null, error: o.error }));
}

export async function statusCommand(ctx: CommandContext): Promise<void> {
  const { service, destination, outcomes } = await readFleetServices(ctx);
  if (ctx.json) ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, 'service')) });
  else ctx.printer.out(renderStatusTable(statusRows(outcomes)));
  const failure = fleetFailure(outcomes, 'read the status');
  if (failure) throw failure;
}
