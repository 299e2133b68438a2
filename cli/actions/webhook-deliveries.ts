// deploy webhook deliveries: per server, the newest webhook deliveries for the
// service and their outcome (deployed, already serving, ignored, refused,
// failed), as the agent recorded them.

import type { WebhookDelivery } from '../../shared/api-types.js';
import { UserError } from '../../shared/errors.js';
import { readWebhookDeliveries } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { sanitize } from '../output/style.js';

const DEFAULT_DELIVERIES = 20;
const MAX_DELIVERIES = 200;

export interface HostDeliveries {
  host: string;
  /** null: the service was never deployed there. */
  deliveries: WebhookDelivery[] | null;
  error?: string;
}

function deliveryCount(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_DELIVERIES;
  const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_DELIVERIES)) throw new UserError(`-n must be a whole number from 1 to ${MAX_DELIVERIES}, not "${raw.slice(0, 20)}"`, undefined, 'usage');
  return n;
}

const time = (iso: string) => (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '-');

/** `deploy 12` when one started, else the short digest the registry gave, else `-`. */
function result(d: WebhookDelivery): string {
  if (d.deploy_id !== null) return `deploy ${d.deploy_id}`;
  return d.digest ? sanitize(d.digest.replace(/^sha256:([0-9a-f]{12}).*$/, 'sha256:$1'), 80) : '-';
}

export function renderDeliveriesTable(hosts: HostDeliveries[]): string {
  const rows: string[][] = [];
  for (const h of hosts) {
    if (h.error !== undefined) rows.push([h.host, '-', '-', '-', '-', '-', '-', `error: ${sanitize(h.error, 300)}`]);
    else if (!h.deliveries) rows.push([h.host, '-', '-', '-', '-', '-', '-', 'never deployed']);
    else if (h.deliveries.length === 0) rows.push([h.host, '-', '-', '-', '-', '-', '-', 'no deliveries']);
    else {
      for (const d of h.deliveries) {
        rows.push([
          h.host, sanitize(d.id, 40), time(d.at), sanitize(d.source, 20), sanitize(d.tag ?? '-', 130), sanitize(d.outcome, 20), result(d), sanitize(d.reason, 300),
        ]);
      }
    }
  }
  return renderTable(['HOST', 'ID', 'TIME', 'SOURCE', 'TAG', 'OUTCOME', 'DIGEST/DEPLOY', 'REASON'], rows);
}

export async function webhookDeliveries(ctx: RunContext, options: { lines: string | undefined }): Promise<void> {
  const limit = deliveryCount(options.lines);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readWebhookDeliveries(client, { service, destination }, limit));
  const rows: HostDeliveries[] = outcomes.map((o) => outcomeJson(o, 'deliveries') as HostDeliveries);
  if (ctx.json) ctx.printer.json({ service, destination, servers: rows });
  else ctx.printer.out(renderDeliveriesTable(rows));
  const failure = hostsFailure(outcomes, { doing: 'read the webhook deliveries' });
  if (failure) throw failure;
}
