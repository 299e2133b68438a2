// GET /v1/services/:name/logs: the service's container logs as NDJSON, one
// {t, role, release, container, stream, line} per line; with follow=1 the
// stream stays open and follows new containers (a deploy) until the client
// goes away or its key is no longer trusted.
import type { Hono } from 'hono';
import { RateLimitError, UserError } from '../../shared/errors.js';
import type { ContainerInfo } from '../docker.js';
import { createLogStreamPool } from '../ops/log-stream-pool.js';
import { followLogs, logTargets, readLogs, type LogQuery, type LogRecord } from '../ops/logs.js';
import { requireToken } from './auth.js';
import { nowMs, opsOf, type ApiDeps, type ApiEnv } from './context.js';
import { ndjsonResponse } from './ndjson.js';
import { boolParam, sinceParam, tailParam } from './ops-input.js';
import { requireCurrentAccessory } from './accessories.js';
import { optionalName, optionalRole, requireDeployed, serviceQuery } from './params.js';

/** Each open stream holds Docker connections (one per container) and a socket. */
export const MAX_LOG_STREAMS = 32;
/** So that one key (a leaked read key, a loop in a script) cannot take every slot. */
export const MAX_LOG_STREAMS_PER_KEY = 8;

export function logRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const dockerStreams = createLogStreamPool();
  let open = 0;
  const openByKey = new Map<string, number>();
  const release = (kid: string) => {
    open--;
    const n = (openByKey.get(kid) ?? 1) - 1;
    if (n > 0) openByKey.set(kid, n);
    else openByKey.delete(kid);
  };

  app.get('/v1/services/:name/logs', requireToken(deps, 'read'), async (c) => {
    const { target: ref, query } = serviceQuery(c, ['role', 'accessory', 'follow', 'tail', 'since']);
    const q: LogQuery = {
      ...ref,
      role: optionalRole(query.role),
      accessory: optionalName(query.accessory, 'accessory'),
      follow: boolParam('follow', query.follow),
      tail: tailParam(query.tail),
      since: sinceParam(query.since, nowMs(deps)),
    };
    if (q.role !== undefined && q.accessory !== undefined) throw new UserError('choose a role or an accessory, not both');
    const ops = opsOf(deps);
    requireDeployed(deps.store, ref);
    if (q.accessory !== undefined) requireCurrentAccessory(deps.store, ref, q.accessory);
    const kid = c.get('caller').kid;
    if ((openByKey.get(kid) ?? 0) >= MAX_LOG_STREAMS_PER_KEY) {
      throw new RateLimitError(`too many open log streams for this key (${MAX_LOG_STREAMS_PER_KEY} per key); close some and try again`, 'too_many_log_streams');
    }
    if (open >= MAX_LOG_STREAMS) throw new RateLimitError(`too many open log streams on this agent (${MAX_LOG_STREAMS}); close some and try again`, 'too_many_log_streams');
    // Counted before the first await, so requests arriving together cannot all pass the check.
    open++;
    openByKey.set(kid, (openByKey.get(kid) ?? 0) + 1);
    let targets: ContainerInfo[];
    try {
      // Listed before answering, so a Docker failure (or no room for its streams) is an error status, not a cut stream.
      targets = await logTargets(ops.docker, q);
      dockerStreams.ensureRoom(targets.length);
    } catch (err) {
      release(kid);
      throw err;
    }
    const logsDeps = { store: deps.store, docker: dockerStreams.counted(ops.docker), log: deps.log };
    const trusted = () => deps.store.keys.get(kid) !== undefined;
    return ndjsonResponse<LogRecord>(c, deps.log, async (write, signal) => {
      try {
        if (q.follow) await followLogs(logsDeps, q, targets, write, signal, trusted, ops.logFollowLimitMs);
        else await readLogs(logsDeps, q, targets, write, signal);
      } finally {
        release(kid);
      }
    }, ops.streamStallMs);
  });
}
