// The request handler: checks the request target, answers webhooks,
// unrouted hosts and maintenance itself, and hands routed requests to
// forward() with their in-flight count held until the response closes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAINTENANCE_MESSAGE } from '../../shared/maintenance.js';
import { sendErrorPage, sendMaintenancePage } from './answers.js';
import { forward } from './forward.js';
import type { InflightCounter } from './inflight.js';
import { pausedTooLong, type PauseGate } from './pause.js';
import { parseRequestTarget, type RequestTarget } from './request-target.js';
import { isHealthPath, normalizeHost, type RouteTable } from './table.js';
import type { TargetPool } from './target-pool.js';
import { forwardWebhook, isWebhookPath } from './webhooks.js';

export interface ProxyDeps {
  /** The live table; read once per request so a swap never splits one request. */
  table: () => RouteTable;
  inflight: InflightCounter;
  pool: TargetPool;
  /** True while shutting down: answers close their connection. */
  draining: () => boolean;
  log: (message: string) => void;
  /** The server's socket inactivity timeout, restored once the app answers. */
  idleTimeoutMs: number;
  /** The agent's webhook socket, where /.berth/webhooks/ requests go on every host. */
  webhookSocket: string;
  /** Where requests of paused routes wait (agent/router/pause.ts). */
  pauses: PauseGate;
}

// One failure line per target per interval: a dead target under load must not flood the log.
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** `log`, at most one line per target per interval. */
export function failureLog(log: (message: string) => void): (target: string, message: string) => void {
  const lastLogged = new Map<string, number>();
  return (target, message) => {
    const now = Date.now();
    if (now - (lastLogged.get(target) ?? 0) < FAILURE_LOG_INTERVAL_MS) return;
    if (lastLogged.size > 1000) lastLogged.clear();
    lastLogged.set(target, now);
    log(message);
  };
}

export function createProxyHandler(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const logFailure = failureLog(deps.log);
  const forwardDeps = { ...deps, log: logFailure };
  return function proxyRequest(req, res) {
    if (deps.draining()) res.shouldKeepAlive = false;
    const verdict = parseRequestTarget(req.url ?? '/', req.headers.host);
    if (!verdict.ok) {
      // The body is never read: close rather than drain it.
      res.shouldKeepAlive = false;
      sendErrorPage(res, 400, `This request cannot be served: ${verdict.reason}.`);
      return;
    }
    const { path } = verdict.target;
    // Before the route lookup: the prefix is the agent's on every host, routed or not, in maintenance or not.
    if (isWebhookPath(path)) {
      forwardWebhook({ socketPath: deps.webhookSocket, log: logFailure }, req, res, verdict.target);
      return;
    }
    routeRequest(req, res, verdict.target, undefined);
  };

  // `deadline`: set when a paused request comes back after a route change.
  function routeRequest(req: IncomingMessage, res: ServerResponse, target: RequestTarget, deadline: number | undefined): void {
    if (res.destroyed) return;
    const { path } = target;
    const host = normalizeHost(req.headers.host);
    const route = host === undefined ? undefined : deps.table().lookup(host, path);
    if (!route) {
      sendErrorPage(res, 503, `There is no service for host ${host ?? '(none)'}.`);
      return;
    }
    // Answered here, so the target sees none of it and nothing is counted in flight.
    if (route.maintenance && !isHealthPath(route, path)) {
      sendMaintenancePage(req, res, route.maintenance.message ?? DEFAULT_MAINTENANCE_MESSAGE);
      return;
    }
    const again = (d: number): void => routeRequest(req, res, target, d);
    if (deps.pauses.holdIfPaused(route, path, req.socket, deadline, again, (s) => sendErrorPage(res, 504, pausedTooLong(s)))) return;
    const release = deps.inflight.start(route.target);
    res.once('close', release);
    try {
      forward(forwardDeps, req, res, route, target);
    } catch (err) {
      // A synchronous throw here would be uncaught in the request listener and take the router down.
      forwardDeps.log(route.target, err instanceof Error ? err.message : String(err));
      if (!res.headersSent) sendErrorPage(res, 502, 'The service could not be reached.');
      else res.destroy();
    }
  }
}
