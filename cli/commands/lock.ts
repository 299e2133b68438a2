// deploy lock status|acquire -m MSG|release: Kamal's `kamal lock`, on every
// server. While a server holds the lock it refuses deploys of this service,
// naming who holds it, since when and why.

import type { OperatorLock } from '../../shared/api-types.js';
import { BerthError, UpstreamError, UserError } from '../../shared/errors.js';
import { MAX_LOCK_MESSAGE_CHARS, checkOperatorMessage } from '../../shared/operator-text.js';
import { outdatedAgentError, servicePath, type AgentClient } from '../client.js';
import { fleetFailure, loadFleet, onEveryServer, outcomeJson, type Fleet, type HostOutcome } from '../fleet.js';
import { renderTable } from '../output/table.js';
import { sanitize } from '../output/style.js';
import { stringOption, type CommandContext } from './context.js';
import { lockHolder } from './status.js';

function lockPath(fleet: Fleet): string {
  const { service, destination } = fleet.config;
  return servicePath(service, destination, 'lock');
}

function parseLock(value: unknown, client: AgentClient): OperatorLock | null {
  if (value === null) return null;
  const lock = value as Partial<OperatorLock> | undefined;
  if (typeof lock !== 'object' || typeof lock.key_id !== 'string' || typeof lock.since !== 'string' || typeof lock.message !== 'string') {
    throw new UpstreamError(`${client.label} sent a malformed lock record`);
  }
  return lock as OperatorLock;
}

/** One row per server: LOCKED yes/no, or the error that server gave. */
function renderLockTable(outcomes: Array<HostOutcome<OperatorLock | null>>): string {
  return renderTable(
    ['HOST', 'LOCKED', 'BY', 'SINCE', 'MESSAGE'],
    outcomes.map((o) => {
      if (!o.ok) return [o.host, '?', '-', '-', `error: ${sanitize(o.error, 300)}`];
      if (!o.value) return [o.host, 'no', '-', '-', '-'];
      return [o.host, 'yes', lockHolder(o.value), sanitize(o.value.since, 40), sanitize(o.value.message, 500)];
    }),
  );
}

function report(ctx: CommandContext, fleet: Fleet, outcomes: Array<HostOutcome<OperatorLock | null>>, field: 'lock' | 'released', doing: string): void {
  const { service, destination } = fleet.config;
  if (ctx.json) {
    ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, field)) });
  } else {
    ctx.printer.out(renderLockTable(outcomes));
  }
  const failure = fleetFailure(outcomes, doing);
  if (failure) throw failure;
}

export async function lockStatusCommand(ctx: CommandContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const outcomes = await onEveryServer(fleet, async (client) => {
    const { body } = await client.json('GET', lockPath(fleet));
    return parseLock((body as { lock?: unknown } | undefined)?.lock ?? null, client);
  });
  report(ctx, fleet, outcomes, 'lock', 'read the lock');
}

export async function lockAcquireCommand(ctx: CommandContext): Promise<void> {
  const raw = stringOption(ctx, 'message');
  if (raw === undefined) throw new UserError('`deploy lock acquire` needs -m MESSAGE: say why', 'deploy lock acquire -m "database migration in progress"', 'usage');
  let message: string;
  try {
    message = checkOperatorMessage(raw, 'lock message', MAX_LOCK_MESSAGE_CHARS);
  } catch (err) {
    throw err instanceof BerthError ? new UserError(err.message, err.hint, 'usage') : err;
  }
  const fleet = await loadFleet(ctx);
  const outcomes = await onEveryServer(fleet, async (client) => {
    const { body } = await client.json('PUT', lockPath(fleet), { body: { message } });
    return parseLock((body as { lock?: unknown } | undefined)?.lock, client);
  });
  report(ctx, fleet, outcomes, 'lock', 'acquire the lock');
}

/** Releasing where nothing is locked is not a failure: the server ends up unlocked either way. */
export async function lockReleaseCommand(ctx: CommandContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const outcomes = await onEveryServer(fleet, async (client) => {
    const { status, body } = await client.json('DELETE', lockPath(fleet), { accept: [404] });
    if (status === 404) {
      const outdated = outdatedAgentError(client.label, body, `${client.label}: the agent does not support locks`);
      if (outdated) throw outdated;
      return null;
    }
    return parseLock((body as { released?: unknown } | undefined)?.released, client);
  });
  if (ctx.json) return report(ctx, fleet, outcomes, 'released', 'release the lock');
  const released = outcomes.filter((o) => o.ok && o.value).length;
  ctx.printer.err(`released the lock on ${released} of ${outcomes.length} server(s)`);
  // The table shows the state after the command: unlocked wherever it succeeded.
  report(ctx, fleet, outcomes.map((o) => (o.ok ? { ...o, value: null } : o)), 'released', 'release the lock');
}
