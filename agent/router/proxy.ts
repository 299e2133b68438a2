// The request handler: checks the request target, answers webhooks,
// unrouted hosts and maintenance itself, and hands routed requests to
// forward() with their in-flight count held until the response closes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAINTENANCE_MESSAGE } from '../../shared/maintenance.js';
import { sendErrorPage, sendMaintenancePage } from './answers.js';
import { forward } from './forward.js';
import type { InflightCounter } from './inflight.js';
import { parseRequestTarget } from './request-target.js';
import { isHealthPath, normalizeHost, type RouteTable } from './table.js';
import type { TargetPool } from './target-pool.js';
import { forwardWebhook, isWebhookPath } from './webhooks.js';
import type { ChallengeAnswers } from './acme-challenges.js';
import { redirectLocation, sendRedirect, wantsRedirect } from './redirect.js';

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
  /** HTTP-01 answers and the certificates redirects depend on (agent/router/https.ts); none in a router without TLS. */
  tls?: { challenges: ChallengeAnswers; hasCertificate: (host: string) => boolean };
}

// One failure line per target per interval: a dead target under load must not flood the log.
const FAILURE_LOG_INTERVAL_MS = 10_000;

export function createProxyHandler(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const lastLogged = new Map<string, number>();
  const logFailure = (target: string, message: string): void => {
    const now = Date.now();
    if (now - (lastLogged.get(target) ?? 0) < FAILURE_LOG_INTERVAL_MS) return;
    if (lastLogged.size > 1000) lastLogged.clear();
    lastLogged.set(target, now);
    deps.log(message);
  };
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
    const host = normalizeHost(req.headers.host);
    const encrypted = 'encrypted' in req.socket;
    // Also before the route lookup: an ACME server validates a host before its first route exists.
    if (!encrypted && deps.tls?.challenges.answer(req, res, path, host)) return;
    const route = host === undefined ? undefined : deps.table().lookup(host, path);
    if (!route) {
      sendErrorPage(res, 503, `There is no service for host ${host ?? '(none)'}.`);
      return;
    }
    if (deps.tls && wantsRedirect(route, encrypted, deps.tls.hasCertificate, host!)) {
      sendRedirect(res, redirectLocation(host!, verdict.target.forward));
      return;
    }
    // Answered here, so the target sees none of it and nothing is counted in flight.
    if (route.maintenance && !isHealthPath(route, path)) {
      sendMaintenancePage(req, res, route.maintenance.message ?? DEFAULT_MAINTENANCE_MESSAGE);
      return;
    }
    const release = deps.inflight.start(route.target);
    res.once('close', release);
    try {
      forward(forwardDeps, req, res, route, verdict.target);
    } catch (err) {
      // A synchronous throw here would be uncaught in the request listener and take the router down.
      forwardDeps.log(route.target, err instanceof Error ? err.message : String(err));
      if (!res.headersSent) sendErrorPage(res, 502, 'The service could not be reached.');
      else res.destroy();
    }
  };
}
