// deploy maintenance / deploy live: every server's router answers the
// service's hosts with 503 and a message (health checks still pass), or serves
// the app again. One request per server, a bounded number at a time; a server
// that fails does not stop the others, and the exit code names it.

import type { MaintenanceState } from '../../shared/api-types.js';
import { BerthError, UpstreamError, UserError } from '../../shared/errors.js';
import { maintenanceMessageProblem } from '../../shared/maintenance.js';
import { endMaintenance, startMaintenance } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import type { HostOutcome } from '../rollout/hosts.js';
import { sanitize } from '../output/style.js';
import { renderTable } from '../output/table.js';

export interface MaintenanceRow {
  host: string;
  /** The maintenance in force after the request (null: serving); undefined when the request failed. */
  maintenance?: MaintenanceState | null;
  error?: string;
}

function renderMaintenanceTable(rows: MaintenanceRow[]): string {
  return renderTable(
    ['HOST', 'STATE', 'DETAIL'],
    rows.map(({ host, maintenance, error }) => {
      if (error !== undefined) return [host, 'failed', `error: ${sanitize(error, 300)}`];
      if (maintenance) return [host, 'maintenance', sanitize(maintenance.message, 300)];
      return [host, 'live', 'serving'];
    }),
  );
}

/** `deploy maintenance` (on) and `deploy live` (off). */
export async function switchMaintenance(ctx: RunContext, options: { on: boolean; message: string | undefined }): Promise<void> {
  const { on } = options;
  const message = on ? options.message : undefined;
  if (message !== undefined) {
    const problem = maintenanceMessageProblem(message);
    if (problem) throw new UserError(`--message ${problem}`, undefined, 'usage');
  }
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const rowOf = (o: HostOutcome<MaintenanceState | null>): MaintenanceRow => (o.ok ? { host: o.host, maintenance: o.value } : { host: o.host, error: o.error });
  const outcomes = await onEveryServer(fleet, (client) => (on ? startMaintenance(client, { service, destination }, message) : endMaintenance(client, { service, destination })), {
    // NDJSON as each server answers, so a long fan-out shows progress.
    onOutcome: (o) => {
      if (ctx.json) ctx.printer.json(rowOf(o));
    },
  });
  const rows = outcomes.map(rowOf);
  if (!ctx.json) ctx.printer.out(renderMaintenanceTable(rows));

  const failed = rows.filter((r) => r.error !== undefined);
  if (failed.length === 0) return;
  const what = on ? 'did not go into maintenance' : 'did not go live';
  const first = outcomes.find((o) => !o.ok);
  const hint = failed.length === 1 && first && !first.ok && first.cause instanceof BerthError ? first.cause.hint : undefined;
  throw new UpstreamError(
    `${failed.length} of ${rows.length} servers ${what}: ${failed.map((f) => f.host).join(', ')}`,
    hint ?? `run \`deploy ${on ? 'maintenance' : 'live'}\` again; servers that already switched are unaffected`,
    'hosts_failed',
  );
}
