// deploy remove: take the service (this destination) off every server: its
// routes, then all its containers. Asks first: on a terminal the person types
// the service name; otherwise -y/--confirmed must say so.

import type { ServiceRemoval } from '../../shared/api-types.js';
import { UserError } from '../../shared/errors.js';
import { formatServerAddress } from '../address.js';
import { removeService } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer, type Fleet } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson, type HostOutcome } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { sanitize } from '../output/style.js';
import { askLine } from '../prompt.js';

const REMOVE_TIMEOUT_MS = 5 * 60_000;

export type Removed = ServiceRemoval;

function renderRemoveTable(outcomes: Array<HostOutcome<Removed | null>>): string {
  return renderTable(
    ['HOST', 'RESULT', 'CONTAINERS'],
    outcomes.map((o) => {
      if (!o.ok) return [o.host, `error: ${sanitize(o.error, 300)}`, '-'];
      if (!o.value) return [o.host, 'not deployed here', '-'];
      const { containers, routes } = o.value;
      return [o.host, `removed ${containers.length} container(s), ${routes} route(s)`, containers.length ? sanitize(containers.join(', '), 500) : '-'];
    }),
  );
}

async function confirm(ctx: RunContext, confirmed: boolean, fleet: Fleet, ask: (q: string) => Promise<string>): Promise<void> {
  if (confirmed) return;
  const { service, destination } = fleet.config;
  if (!ctx.env.stdinIsTTY) {
    throw new UserError(`deploy remove deletes ${service}'s containers and routes and needs confirmation`, 'run it on a terminal, or pass -y (--confirmed)', 'usage');
  }
  const hosts = fleet.config.servers.map(formatServerAddress).join(', ');
  const what = destination ? `${service} (destination ${destination})` : service;
  const answer = await ask(`This removes ${what} from ${fleet.config.servers.length} server(s): ${hosts}.\nType the service name to confirm: `);
  if (answer.trim() !== service) throw new UserError('not confirmed; nothing was removed', `type ${service} exactly, or pass -y`, 'not_confirmed');
}

/** `ask` puts a question on the terminal and answers the line typed (a test answers it). */
export async function runRemove(ctx: RunContext, options: { confirmed: boolean }, ask: (q: string) => Promise<string>): Promise<void> {
  const fleet = await loadFleet(ctx);
  await confirm(ctx, options.confirmed, fleet, ask);
  const { service, destination } = fleet.config;
  // The agent answers once the containers are stopped, which takes up to their stop_timeout.
  const outcomes = await onEveryServer(fleet, (client) => removeService(client, fleet.config), { timeoutMs: REMOVE_TIMEOUT_MS });
  if (ctx.json) ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, 'removed')) });
  else ctx.printer.out(renderRemoveTable(outcomes));
  const failure = hostsFailure(outcomes, { doing: `remove ${service}` });
  if (failure) throw failure;
}

export const remove = (ctx: RunContext, options: { confirmed: boolean }): Promise<void> => runRemove(ctx, options, askLine);
