// deploy status: what each server runs for this service, one row per server.

import type { OperatorLock } from '../../shared/api-types.js';
import type { ServiceDetail } from '../../shared/service-detail.js';
import { readService } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson, type HostOutcome } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { sanitize, shortKey } from '../output/style.js';

/** What GET /v1/services/:name answers; `lock`, `maintenance` and `last_deploy` only from agents that know them. */
export type ServiceView = ServiceDetail;

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
export async function readFleetServices(ctx: RunContext): Promise<{ service: string; destination: string; outcomes: Array<HostOutcome<ServiceView | null>> }> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readService(client, { service, destination }));
  return { service, destination, outcomes };
}

function statusRows(outcomes: Array<HostOutcome<ServiceView | null>>): StatusRow[] {
  return outcomes.map((o) => (o.ok ? { host: o.host, service: o.value } : { host: o.host, service: null, error: o.error }));
}

export async function status(ctx: RunContext): Promise<void> {
  const { service, destination, outcomes } = await readFleetServices(ctx);
  if (ctx.json) ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, 'service')) });
  else ctx.printer.out(renderStatusTable(statusRows(outcomes)));
  const failure = hostsFailure(outcomes, { doing: 'read the status' });
  if (failure) throw failure;
}
