// deploy proxy pause / deploy proxy resume (Kamal's `kamal proxy pause|resume`):
// every server's router holds the service's new requests (up to --timeout
// seconds each, then 504) or lets them through again. One request per server,
// a bounded number at a time; a server that fails does not stop the others,
// and the exit code names it. An agent without proxy.pause.v1 is refused by name.

import type { PauseState } from '../../shared/api-types.js';
import { BerthError, UpstreamError, UserError } from '../../shared/errors.js';
import { MAX_PAUSE_TIMEOUT_S } from '../../shared/routes.js';
import { pauseProxy, resumeProxy } from '../agent-api/endpoints.js';
import { readIdentity } from '../agent-api/pinning.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import type { HostOutcome } from '../rollout/hosts.js';
import { sanitize } from '../output/style.js';
import { renderTable } from '../output/table.js';

export const PAUSE_FEATURE = 'proxy.pause.v1';

export interface PauseRow {
  host: string;
  /** The pause in force after the request (null: serving); undefined when the request failed. */
  pause?: PauseState | null;
  error?: string;
}

/** --timeout as seconds: a positive number up to MAX_PAUSE_TIMEOUT_S, or undefined for the agent's default. */
export function parsePauseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0) || seconds > MAX_PAUSE_TIMEOUT_S) {
    throw new UserError(`--timeout "${sanitize(value, 40)}" must be seconds, more than 0 and at most ${MAX_PAUSE_TIMEOUT_S}`, undefined, 'usage');
  }
  return seconds;
}

function renderPauseTable(rows: PauseRow[]): string {
  return renderTable(
    ['HOST', 'STATE', 'DETAIL'],
    rows.map(({ host, pause, error }) => {
      if (error !== undefined) return [host, 'failed', `error: ${sanitize(error, 300)}`];
      if (pause) return [host, 'paused', `requests held up to ${pause.timeout} s, then 504`];
      return [host, 'live', 'serving'];
    }),
  );
}

export async function switchPause(ctx: RunContext, options: { pause: boolean; timeout: string | undefined }): Promise<void> {
  const timeout = options.pause ? parsePauseTimeout(options.timeout) : undefined;
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const rowOf = (o: HostOutcome<PauseState | null>): PauseRow => (o.ok ? { host: o.host, pause: o.value } : { host: o.host, error: o.error });
  const outcomes = await onEveryServer(
    fleet,
    async (client, _host, pin) => {
      const identity = await readIdentity(client, pin.tls_fingerprint);
      if (!identity.features.includes(PAUSE_FEATURE)) {
        throw new UpstreamError(`the agent on ${client.label} cannot pause traffic (it lacks ${PAUSE_FEATURE})`, `upgrade the agent on ${client.label}`, 'agent_outdated');
      }
      return options.pause ? pauseProxy(client, { service, destination }, timeout) : resumeProxy(client, { service, destination });
    },
    {
      onOutcome: (o) => {
        if (ctx.json) ctx.printer.json(rowOf(o));
      },
    },
  );
  const rows = outcomes.map(rowOf);
  if (!ctx.json) ctx.printer.out(renderPauseTable(rows));

  const failed = rows.filter((r) => r.error !== undefined);
  if (failed.length === 0) return;
  const what = options.pause ? 'did not pause' : 'did not resume';
  const first = outcomes.find((o) => !o.ok);
  const hint = failed.length === 1 && first && !first.ok && first.cause instanceof BerthError ? first.cause.hint : undefined;
  throw new UpstreamError(
    `${failed.length} of ${rows.length} servers ${what}: ${failed.map((f) => f.host).join(', ')}`,
    hint ?? `run \`deploy proxy ${options.pause ? 'pause' : 'resume'}\` again; servers that already switched are unaffected`,
    'hosts_failed',
  );
}
