// deploy stop / deploy start (Kamal's `kamal app stop|start`, which map here):
// on every server of the chosen roles, the live release's containers stop and
// their routes leave the router (the hosts answer as unrouted ones), or start again, pass
// their health checks and are routed. The stop persists on the agent until
// `deploy start` or a deploy that goes live. One request per server, a bounded
// number at a time; a server that fails does not stop the others, and the exit
// code names it. An agent without app.stop.v1 is refused by name.

import { APP_STATE_FEATURE, appStateResponseSchema, type AppStateResult } from '../../shared/app-state.js';
import { BerthError, UpstreamError, UserError } from '../../shared/errors.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import { servicePath, type AgentClient } from '../agent-api/client.js';
import { readIdentity } from '../agent-api/pinning.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/types.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import type { HostOutcome } from '../rollout/hosts.js';
import { sanitize } from '../output/style.js';
import { renderTable } from '../output/table.js';

export interface AppStateRow {
  host: string;
  /** What the agent answered; undefined when the request failed. */
  app?: AppStateResult;
  error?: string;
}

export interface AppStateTargets {
  /** Each server with the roles to name to it (undefined: every role it runs). */
  servers: Array<{ address: ServerAddress; roles: string[] | undefined }>;
}

/** A comma-separated list of names (Kamal's -r web,workers); wildcards are refused. */
function nameList(value: string | undefined, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '' || /[*?[\]]/.test(n))) {
    throw new UserError(`--${what} ${JSON.stringify(sanitize(value, 80))}: name each ${what} exactly, separated by commas (no wildcards)`, undefined, 'usage');
  }
  return [...new Set(names)];
}

/** The servers of the chosen roles (all servers without -r), narrowed to --host; pure. */
export function appStateTargets(config: DeployConfig, options: { role?: string | undefined; host?: string | undefined }): AppStateTargets {
  const roles = nameList(options.role, 'role');
  const hosts = nameList(options.host, 'host');
  for (const r of roles ?? []) {
    if (!config.roles.some((c) => c.name === r)) {
      throw new UserError(`role ${sanitize(r, 80)} is not in the config (roles: ${config.roles.map((c) => c.name).join(', ')})`, undefined, 'usage');
    }
  }
  const known = config.servers.map(formatServerAddress);
  for (const h of hosts ?? []) {
    if (!config.servers.some((a) => formatServerAddress(a) === h || a.host === h)) {
      throw new UserError(`--host ${sanitize(h, 80)} is not a server of the config (${known.join(', ')})`, undefined, 'usage');
    }
  }
  const servers = config.servers
    .filter((a) => hosts === undefined || hosts.some((h) => formatServerAddress(a) === h || a.host === h))
    .map((address) => {
      const here = config.roles.filter((r) => r.hosts.some((h) => formatServerAddress(h.address) === formatServerAddress(address))).map((r) => r.name);
      return { address, roles: roles === undefined ? undefined : roles.filter((r) => here.includes(r)) };
    })
    .filter((s) => s.roles === undefined || s.roles.length > 0);
  if (servers.length === 0) throw new UserError('no server of the config runs the chosen roles on the chosen hosts', undefined, 'usage');
  return { servers };
}

function renderAppStateTable(rows: AppStateRow[], stop: boolean): string {
  return renderTable(
    ['HOST', 'ROLE', 'STATE', 'DETAIL'],
    rows.flatMap(({ host, app, error }) => {
      if (error !== undefined || !app) return [[host, '-', 'failed', `error: ${sanitize(error ?? 'no answer', 300)}`]];
      return app.roles.map((r) => {
        const state = r.stopped ? 'stopped' : 'running';
        const detail = r.changed
          ? `${stop ? 'stopped' : 'started'} ${sanitize(app.version, 130)}${r.containers.length ? ` (${r.containers.map((c) => sanitize(c, 130)).join(', ')})` : ''}`
          : stop ? 'already stopped' : 'already running';
        return [host, r.role, state, detail];
      });
    }),
  );
}

async function request(client: AgentClient, action: 'stop' | 'start', ref: { service: string; destination: string }, roles: string[] | undefined): Promise<AppStateResult> {
  const { body } = await client.json('POST', servicePath(ref.service, ref.destination, `app/${action}`), { body: roles ? { roles } : {} });
  const parsed = appStateResponseSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamError(`${client.label} sent a malformed app ${action} answer`);
  return parsed.data.app;
}

export async function switchAppState(ctx: RunContext, options: { stop: boolean; role: string | undefined; host: string | undefined }): Promise<void> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const { servers } = appStateTargets(fleet.config, options);
  const rolesOf = new Map(servers.map((s) => [formatServerAddress(s.address), s.roles]));
  const action = options.stop ? 'stop' : 'start';
  const rowOf = (o: HostOutcome<AppStateResult>): AppStateRow => (o.ok ? { host: o.host, app: o.value } : { host: o.host, error: o.error });
  // A start waits for the health checks (deploy_timeout), a stop for stop_timeout.
  const timeoutMs = (Math.max(fleet.config.deploy_timeout, fleet.config.stop_timeout) + 60) * 1000;
  const outcomes = await onEveryServer(
    fleet,
    async (client, host, pin) => {
      const identity = await readIdentity(client, pin.tls_fingerprint);
      if (!identity.features.includes(APP_STATE_FEATURE)) {
        throw new UpstreamError(`the agent on ${client.label} cannot ${action} the app (it lacks ${APP_STATE_FEATURE})`, `upgrade the agent on ${client.label}`, 'agent_outdated');
      }
      return request(client, action, { service, destination }, rolesOf.get(host));
    },
    {
      servers: servers.map((s) => s.address),
      timeoutMs,
      onOutcome: (o) => {
        if (ctx.json) ctx.printer.json(rowOf(o));
      },
    },
  );
  const rows = outcomes.map(rowOf);
  if (!ctx.json) ctx.printer.out(renderAppStateTable(rows, options.stop));

  const failed = rows.filter((r) => r.error !== undefined);
  if (failed.length === 0) return;
  const first = outcomes.find((o) => !o.ok);
  const hint = failed.length === 1 && first && !first.ok && first.cause instanceof BerthError ? first.cause.hint : undefined;
  throw new UpstreamError(
    `${failed.length} of ${rows.length} servers did not ${action}: ${failed.map((f) => f.host).join(', ')}`,
    hint ?? `run \`deploy ${action}\` again; servers that already ${options.stop ? 'stopped' : 'started'} are unaffected`,
    'hosts_failed',
  );
}
