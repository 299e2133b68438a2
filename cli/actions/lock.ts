// deploy lock status|acquire -m MSG|release: Kamal's `kamal lock`, on every
// server. While a server holds the lock it refuses deploys of this service,
// naming who holds it, since when and why.

import type { OperatorLock } from '../../shared/api-types.js';
import { BerthError, UserError } from '../../shared/errors.js';
import { MAX_LOCK_MESSAGE_CHARS, checkOperatorMessage } from '../../shared/operator-text.js';
import { acquireLock, readLock, releaseLock } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer, type Fleet } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson, type HostOutcome } from '../rollout/hosts.js';
import { renderTable } from '../output/table.js';
import { lockHolder, sanitize } from '../output/style.js';

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

function report(ctx: RunContext, fleet: Fleet, outcomes: Array<HostOutcome<OperatorLock | null>>, field: 'lock' | 'released', doing: string): void {
  const { service, destination } = fleet.config;
  if (ctx.json) {
    ctx.printer.json({ service, destination, servers: outcomes.map((o) => outcomeJson(o, field)) });
  } else {
    ctx.printer.out(renderLockTable(outcomes));
  }
  const failure = hostsFailure(outcomes, { doing });
  if (failure) throw failure;
}

export async function lockStatus(ctx: RunContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const outcomes = await onEveryServer(fleet, (client) => readLock(client, fleet.config));
  report(ctx, fleet, outcomes, 'lock', 'read the lock');
}

export async function lockAcquire(ctx: RunContext, options: { message: string | undefined }): Promise<void> {
  const raw = options.message;
  if (raw === undefined) throw new UserError('`deploy lock acquire` needs -m MESSAGE: say why', 'deploy lock acquire -m "database migration in progress"', 'usage');
  let message: string;
  try {
    message = checkOperatorMessage(raw, 'lock message', MAX_LOCK_MESSAGE_CHARS);
  } catch (err) {
    throw err instanceof BerthError ? new UserError(err.message, err.hint, 'usage') : err;
  }
  const fleet = await loadFleet(ctx);
  const outcomes = await onEveryServer(fleet, (client) => acquireLock(client, fleet.config, message));
  report(ctx, fleet, outcomes, 'lock', 'acquire the lock');
}

/** Releasing where nothing is locked is not a failure: the server ends up unlocked either way. */
export async function lockRelease(ctx: RunContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const outcomes = await onEveryServer(fleet, (client) => releaseLock(client, fleet.config));
  if (ctx.json) return report(ctx, fleet, outcomes, 'released', 'release the lock');
  const released = outcomes.filter((o) => o.ok && o.value).length;
  ctx.printer.err(`released the lock on ${released} of ${outcomes.length} server(s)`);
  // The table shows the state after the command: unlocked wherever it succeeded.
  report(ctx, fleet, outcomes.map((o) => (o.ok ? { ...o, value: null } : o)), 'released', 'release the lock');
}
