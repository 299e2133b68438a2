// deploy exec: run a command in a new container of the current release (or
// with --reuse in the running one) on every server of the role, or (deploy
// accessory exec) in an accessory's running container on its servers; -i runs it
// interactively on one server over a WebSocket. Needs a key with admin scope.

import { UpstreamError, UserError } from '../../shared/errors.js';
import { formatServerAddress, type ServerAddress } from '../address.js';
import { openExec, type ExecTarget } from '../agent-api/endpoints.js';
import { connectPinned } from '../agent-api/pinning.js';
import { loadAppConfig, readOperatorKey } from '../app-config.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/types.js';
import { runInteractive } from '../exec-socket.js';
import { onEveryServer, serversOf, type Fleet } from '../rollout/fleet.js';
import { hostError } from '../rollout/hosts.js';
import { readNdjson } from '../ndjson.js';
import { createPrefixedWriter } from '../output/prefixed-writer.js';
import { accessoryServers } from './accessory-target.js';

/** The agent sends a keepalive every 15 s while a command is quiet. */
const IDLE_MS = 60_000;

export interface ExecPlan {
  role: string;
  servers: ServerAddress[];
}

/** `all` narrowed to the one server --host names (HOST or HOST:PORT). */
function narrowToHost(all: ServerAddress[], host: string | undefined, of: string): ServerAddress[] {
  if (host === undefined) return all;
  const match = all.filter((a) => formatServerAddress(a) === host || a.host === host);
  if (match.length === 0) {
    throw new UserError(`--host ${host} is not a server of ${of} (${all.map(formatServerAddress).join(', ')})`, undefined, 'usage');
  }
  return match.slice(0, 1);
}

/** The role (given, or the primary role) and its servers, narrowed to --host. */
export function execServers(config: DeployConfig, role: string | undefined, host: string | undefined): ExecPlan {
  const chosen = role ?? config.primary_role;
  return { role: chosen, servers: narrowToHost(serversOf(config, chosen), host, `the ${chosen} role`) };
}

/** Where the command runs and on which servers: a role's, or (deploy accessory exec) an accessory's. */
function execPlan(config: DeployConfig, options: ExecOptions): { target: ExecTarget; what: string; servers: ServerAddress[] } {
  if (options.accessory === undefined) {
    const plan = execServers(config, options.role, options.host);
    const servers = options.primary ? plan.servers.slice(0, 1) : plan.servers;
    return { target: { role: plan.role }, what: `the ${plan.role} role`, servers };
  }
  const what = `accessory ${options.accessory}`;
  return { target: { accessory: options.accessory }, what, servers: narrowToHost(accessoryServers(config, options.accessory), options.host, what) };
}

export interface ExecOptions {
  cmd: string[];
  role: string | undefined;
  host: string | undefined;
  reuse: boolean;
  interactive: boolean;
  /** Only the role's first server. */
  primary?: boolean;
  /** Run in this accessory's running container instead (deploy accessory exec). */
  accessory?: string | undefined;
}

export async function exec(ctx: RunContext, options: ExecOptions): Promise<number> {
  const { cmd, reuse } = options;
  if (cmd.length === 0) throw new UserError('`deploy exec` needs a command', 'usage: deploy exec [-r ROLE] [--reuse] [-i] [--host HOST] -- CMD...', 'usage');
  const { config, appDir } = await loadAppConfig(ctx);
  const plan = execPlan(config, options);
  if (plan.servers.length === 0) throw new UserError(`${plan.what} has no servers`, undefined, 'usage');
  // Not loadFleet: a usage error comes before the key is read.
  const key = await readOperatorKey(ctx);
  const fleet: Fleet = { config, appDir, key };

  if (options.interactive) {
    const address = plan.servers[0] as ServerAddress;
    const { client } = await connectPinned({ appDir, address, key, trustNew: false });
    const params = new URLSearchParams({ destination: config.destination, ...plan.target, cmd: JSON.stringify(cmd) });
    if (reuse) params.set('reuse', '1');
    return runInteractive(client, `/v1/services/${encodeURIComponent(config.service)}/exec/ws`, params);
  }

  const many = plan.servers.length > 1;
  const errRaw = ctx.printer.errRaw ?? ctx.printer.err;
  const raw = (stream: string, text: string) => (stream === 'stderr' ? errRaw(text) : ctx.printer.outRaw(text));
  const outcomes = await onEveryServer(fleet, async (client, host) => {
    const out = many ? createPrefixedWriter(raw, host) : { push: raw, end: () => undefined };
    let exitCode: number | null | undefined;
    try {
      const res = await openExec(client, config, { cmd, target: plan.target, reuse }, IDLE_MS);
      for await (const record of readNdjson(res, host)) {
        if ('exit_code' in record) exitCode = typeof record.exit_code === 'number' ? record.exit_code : null;
        else if (typeof record.data === 'string' && (record.stream === 'stdout' || record.stream === 'stderr')) {
          if (ctx.json) ctx.printer.json({ host, stream: record.stream, data: record.data });
          else out.push(record.stream, record.data);
        }
      }
    } finally {
      out.end();
    }
    if (exitCode === undefined) throw new UpstreamError(`${host}: the command's output ended without an exit code`);
    if (ctx.json) ctx.printer.json({ host, exit_code: exitCode });
    else if (many && exitCode !== 0) ctx.printer.err(`${host}: exit code ${exitCode ?? 'unknown'}`);
    return exitCode;
  }, { servers: plan.servers });
  if (!many) {
    const [only] = outcomes;
    if (only && !only.ok) throw only.cause;
    return (only?.ok ? only.value : null) ?? 1;
  }
  const failed = outcomes.filter((o) => !o.ok);
  for (const f of failed) if (!ctx.json && !f.ok) ctx.printer.err(hostError(f));
  if (failed.length > 0) throw new UpstreamError(`the command could not run on ${failed.length} of ${outcomes.length} servers: ${failed.map((f) => f.host).join(', ')}`);
  return outcomes.every((o) => o.ok && o.value === 0) ? 0 : 1;
}
