// deploy logs: the service's container logs from every server (or an
// accessory's, from the servers it is placed on: deploy accessory logs),
// merged as they arrive, each line prefixed by its host. --grep runs here: an
// operator's regular expression never runs on a server.

import { UserError } from '../../shared/errors.js';
import { openLogs } from '../agent-api/endpoints.js';
import { loadAppConfig, readOperatorKey } from '../app-config.js';
import type { RunContext } from '../command.js';
import { onEveryServer, serversOf, type Fleet } from '../rollout/fleet.js';
import { hostError, hostsFailure, MAX_PARALLEL_SERVERS } from '../rollout/hosts.js';
import { readNdjson } from '../ndjson.js';
import { sanitize } from '../output/style.js';
import { accessoryServers } from './accessory-target.js';

/** Following holds one stream per server; the agent sends a keepalive every 15 s. */
const FOLLOW_IDLE_MS = 60_000;
const READ_IDLE_MS = 30_000;
const MAX_LINE_SHOWN = 16 * 1024;

export interface LogLine {
  host: string;
  t: string;
  role: string;
  release: string;
  container: string;
  stream: string;
  line: string;
}

export function logsQuery(service: string, o: { destination: string; role?: string | undefined; accessory?: string | undefined; follow: boolean; tail?: string | undefined; since?: string | undefined }): string {
  const params = new URLSearchParams({ destination: o.destination });
  if (o.role !== undefined) params.set('role', o.role);
  if (o.accessory !== undefined) params.set('accessory', o.accessory);
  if (o.follow) params.set('follow', '1');
  if (o.tail !== undefined) params.set('tail', o.tail);
  if (o.since !== undefined) params.set('since', o.since);
  return `/v1/services/${encodeURIComponent(service)}/logs?${params.toString()}`;
}

/** `host [role] [release] | line`: role and release only once there is more than one to tell apart. */
export function createLinePrefixer(manyRoles: boolean): (l: LogLine) => string {
  const releases = new Set<string>();
  const roles = new Set<string>();
  return (l) => {
    releases.add(l.release);
    roles.add(l.role);
    const parts = [l.host];
    if (manyRoles || roles.size > 1) parts.push(l.role);
    if (releases.size > 1) parts.push(l.release.slice(0, 12));
    return `${parts.join(' ')} | ${sanitize(l.line, MAX_LINE_SHOWN)}`;
  };
}

function compileGrep(pattern: string | undefined): RegExp | undefined {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new UserError(`--grep ${JSON.stringify(pattern)} is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`, undefined, 'usage');
  }
}

function checkTail(value: string | undefined): void {
  if (value !== undefined && (!/^\d{1,5}$/.test(value) || Number(value) > 10_000)) throw new UserError('-n must be a whole number from 0 to 10000', undefined, 'usage');
}

export interface LogsOptions {
  role: string | undefined;
  /** An accessory's container instead of the service's (on the servers it is placed on). */
  accessory?: string | undefined;
  follow: boolean;
  lines: string | undefined;
  since: string | undefined;
  grep: string | undefined;
}

export async function logs(ctx: RunContext, options: LogsOptions): Promise<void> {
  const { role, accessory, follow, since } = options;
  const tail = options.lines;
  checkTail(tail);
  const grep = compileGrep(options.grep);
  const { config, appDir } = await loadAppConfig(ctx);
  const servers = accessory === undefined ? serversOf(config, role) : accessoryServers(config, accessory);
  const key = await readOperatorKey(ctx);
  const query = (o: { tail?: string | undefined; since?: string | undefined }) => logsQuery(config.service, { destination: config.destination, role, accessory, follow, ...o });
  const prefix = createLinePrefixer(role === undefined && accessory === undefined && config.roles.length > 1);
  const show = (l: LogLine) => {
    if (grep && !grep.test(l.line)) return;
    if (ctx.json) ctx.printer.json(l);
    else ctx.printer.out(prefix(l));
  };

  // Not loadFleet: an unknown role is a usage error before the key is read.
  const fleet: Fleet = { config, appDir, key };
  const outcomes = await onEveryServer(fleet, async (client, host) => {
    let path = query({ tail, since });
    const resume = createFollowResume();
    for (;;) {
      const res = await openLogs(client, path, follow ? FOLLOW_IDLE_MS : READ_IDLE_MS);
      let ended = false;
      for await (const record of readNdjson(res, host)) {
        // The agent ends a follow after its time limit: follow on with a new request.
        if (follow && record.end === 'follow_limit') ended = true;
        else if (resume.fresh(logFields(record))) show({ host, ...logFields(record) });
      }
      if (!ended) return;
      path = query(resume.next());
    }
  }, {
    servers,
    // Following needs every server's stream open at once; reading can take turns.
    limit: follow ? Math.max(1, servers.length) : MAX_PARALLEL_SERVERS,
    onOutcome: (o) => {
      // A follow runs until interrupted: say at once that a server dropped out.
      if (!o.ok && follow && !ctx.json) ctx.printer.err(hostError(o));
    },
  });
  const failure = hostsFailure(outcomes, { doing: 'read the logs' });
  if (failure) throw failure;
}

/**
 * Following on after the agent ended a stream: ask again from the newest line
 * shown (the agent's `since` is whole seconds, and each container's tail is
 * taken whole), then skip what each container already showed. A line of a
 * container written in the same millisecond as its last one shown is skipped.
 */
export function createFollowResume(now: () => number = Date.now): {
  fresh(l: Pick<LogLine, 't' | 'container'>): boolean;
  next(): { tail: string; since: string };
} {
  const shown = new Map<string, string>();
  let skipUpTo = new Map<string, string>();
  let newest: string | undefined;
  return {
    fresh(l) {
      const before = skipUpTo.get(l.container);
      if (before !== undefined && l.t <= before) return false;
      if (l.container !== '') shown.set(l.container, l.t);
      if (newest === undefined || l.t > newest) newest = l.t;
      return true;
    },
    next() {
      skipUpTo = new Map(shown);
      return { tail: '10000', since: newest ?? new Date(now()).toISOString() };
    },
  };
}

function logFields(r: Record<string, unknown>): Omit<LogLine, 'host'> {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return { t: text(r.t), role: text(r.role), release: text(r.release), container: text(r.container), stream: text(r.stream), line: text(r.line) };
}
