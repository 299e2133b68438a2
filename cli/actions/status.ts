// deploy status: what each server runs for this service, one row per server.

import type { ServiceDetail } from '../../shared/service-detail.js';
import type { RunContext } from '../command.js';
import { readFleetServices } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson, type HostOutcome } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { lockHolder, sanitize } from '../output/style.js';

/** What GET /v1/services/:name answers; `lock`, `maintenance`, `pause` and `last_deploy` only from agents that know them. */
export type ServiceView = ServiceDetail;

interface StatusRow {
  host: string;
  service: ServiceView | null;
  error?: string;
}

function lockCell(service: ServiceView | null): string {
  const lock = service?.lock;
  return lock ? `locked by ${lockHolder(lock)}` : '-';
}

function maintenanceCell(service: ServiceView | null): string {
  const m = service?.maintenance;
  return m ? `on${m.message ? `: ${sanitize(m.message, 60)}` : ''}` : '-';
}

function stoppedCell(service: ServiceView | null): string {
  const stopped = service?.stopped ?? [];
  return stopped.length ? `stopped: ${stopped.map((s) => sanitize(s.role, 63)).join(', ')}` : '-';
}

function pauseCell(service: ServiceView | null): string {
  const p = service?.pause;
  return p ? `paused since ${sanitize(p.since, 40)} (held up to ${p.timeout} s)` : '-';
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
  // Shown only while some server is paused: a pause holds every request, so it must not go unnoticed.
  const withPause = rows.some((r) => r.service?.pause);
  // Shown only while some server has stopped roles (`deploy stop`): they serve nothing.
  const withStopped = rows.some((r) => (r.service?.stopped ?? []).length > 0);
  const extra = (service: ServiceView | null): string[] => [
    ...(withLock ? [lockCell(service)] : []),
    ...(withMaintenance ? [maintenanceCell(service)] : []),
    ...(withPause ? [pauseCell(service)] : []),
    ...(withStopped ? [stoppedCell(service)] : []),
  ];
  return renderTable(
    ['HOST', 'RELEASE', 'SEQ', 'CONTAINERS', ...(withLock ? ['LOCK'] : []), ...(withMaintenance ? ['MAINTENANCE'] : []), ...(withPause ? ['PAUSE'] : []), ...(withStopped ? ['APP'] : []), 'LAST DEPLOY'],
    rows.map(({ host, service, error }) => {
      if (error !== undefined) return [host, '-', '-', '-', ...extra(null), `error: ${sanitize(error, 300)}`];
      if (!service) return [host, '-', '0', '-', ...extra(null), 'never deployed'];
      const running = service.containers.filter((c) => c.state === 'running').length;
      return [host, sanitize(service.current?.version ?? '-', 130), String(service.seq), `${running} running, ${service.containers.length - running} stopped`, ...extra(service), lastDeployCell(service)];
    }),
  );
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
