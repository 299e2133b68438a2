// deploy remove: take the service (this destination) off every server: its
// routes, then all its containers. Asks first: on a terminal the person types
// the service name; otherwise -y/--confirmed must say so.

import { UpstreamError, UserError } from '../../shared/errors.js';
import { formatServerAddress } from '../address.js';
import { outdatedAgentError, servicePath, type AgentClient } from '../client.js';
import { fleetFailure, loadFleet, onEveryServer, outcomeJson, type Fleet, type HostOutcome } from '../fleet.js';
import { renderTable } from '../output/table.js';
import { sanitize } from '../output/style.js';
import { askLine } from '../prompt.js';
import { flag, type CommandContext } from './context.js';

const REMOVE_TIMEOUT_MS = 5 * 60_000;

export interface Removed {
  containers: string[];
  routes: number;
}

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

async function removeFrom(client: AgentClient, fleet: Fleet): Promise<Removed | null> {
  const { service, destination } = fleet.config;
  const { status, body } = await client.json('DELETE', servicePath(service, destination), { accept: [404] });
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `${client.label}: the agent cannot remove services`);
    if (outdated) throw outdated;
    return null;
  }
  const removed = (body as { removed?: Partial<Removed> } | undefined)?.removed;
  if (!removed || !Array.isArray(removed.containers) || typeof removed.routes !== 'number') {
    throw new UpstreamError(`${client.label} sent a malformed removal result`);
  }
  return { containers: removed.containers.map(String), routes: removed.routes };
}

async function confirm(ctx: CommandContext, fleet: Fleet, ask: (q: string) => Promise<string>): Promise<void> {
  if (flag(ctx, 'confirmed')) return;
  const { service, destination } = fleet.config;
  if (!ctx.env.stdinIsTTY) {
    throw new UserError(`deploy remove deletes ${service}'s containers and routes and needs confirmation`, 'run it on a terminal, or pass -y (--confirmed)', 'usage');
  }
  const hosts = fleet.config.servers.map(formatServerAddress).join(', ');
  const what = destination ? `${service} (destination ${destination})` : service;
  const answer = await ask(`This removes ${what} from ${fleet.config.servers.length} server(s): ${hosts}.\nType the service name to confirm: `);
  if (answer.trim() !== service) throw new UserError('not confirmed; nothing was removed', `type ${service} exactly, or pass -y`, 'not_confirmed');
}

export async function runRemove(ctx: CommandContext, ask: (q: string) => Promise<string>): Promise<void> {
  const fleet = await loadFleet(ctx);
  await confirm(ctx, fleet, ask);
  const { service, destination } = fleet.config;
  // The agent answers once the containers are stopped, which takes up to their stop_timeout.
  const outcomes = await onEveryServer(fleet, (client) => removeFrom(client, fleet), { timeoutMs: REMOVE_TIMEOUT_MS });
  if (ctx.json) ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, 'removed')) });
  else ctx.printer.out(renderRemoveTable(outcomes));
  const failure = fleetFailure(outcomes, `remove ${service}`);
  if (failure) throw failure;
}

export const removeCommand = (ctx: CommandContext): Promise<void> => runRemove(ctx, askLine);
