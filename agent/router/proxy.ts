// The request handler: checks the request target, answers webhooks,
// unrouted hosts and maintenance itself, and hands routed requests to
// forward() with their in-flight count held until the response closes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DEFAULT_MAINTENANCE_MESSAGE } from '../../shared/maintenance.js';
import { sendErrorPage, sendMaintenancePage } from './answers.js';
import { refuseDeclaredRequestBody } from './body-limits.js';
import type { Balancer } from './balancer.js';
import type { Spool } from './buffer-store.js';
import type { Failover } from './failover.js';
import { forward } from './forward.js';
import type { InflightCounter } from './inflight.js';
import type { RequestMetrics } from './metrics.js';
import { pausedTooLong, type PauseGate } from './pause.js';
import { parseRequestTarget, stripPathPrefix, type RequestTarget } from './request-target.js';
import type { RequestLog } from './request-log.js';
import { isHealthPath, normalizeHost, type RouteTable } from './table.js';
import type { Route } from './types.js';
import type { TargetPool } from './target-pool.js';
import { forwardWebhook, isWebhookPath } from './webhooks.js';
import { CHALLENGE_PREFIX, type ChallengeAnswers } from './acme-challenges.js';
import { bindErrorPages, type ErrorPageStore } from './error-pages.js';
import { redirectLocation, sendRedirect, wantsRedirect } from './redirect.js';

export interface ProxyDeps {
  /** The live table; read once per request so a swap never splits one request. */
  table: () => RouteTable;
  inflight: InflightCounter;
  pool: TargetPool;
  /** Which target of a route gets each request (round robin, passive health). */
  balancer: Balancer;
  /** True while shutting down: answers close their connection. */
  draining: () => boolean;
  log: (message: string) => void;
  /** The server's socket inactivity timeout, restored once the app answers. */
  idleTimeoutMs: number;
  /** The agent's webhook socket, where /.berth/webhooks/ requests go on every host. */
  webhookSocket: string;
  /** Requests by service and outcome (NO_METRICS when the metrics listener is off). */
  metrics: RequestMetrics;
  /** One line per request when set; webhook deliveries (their path holds a credential) are not logged. */
  requestLog?: RequestLog;
  /** Where buffered bodies spill to disk (agent/router/buffer-store.ts). */
  spool: Spool;
  /** Where requests of paused routes wait (agent/router/pause.ts). */
  pauses: PauseGate;
  /** HTTP-01 answers and the certificates redirects depend on (agent/router/https.ts); none in a router without TLS. */
  tls?: { challenges: ChallengeAnswers; hasCertificate: (host: string) => boolean };
  /** The app's error pages (agent/router/error-pages.ts); the router's own for every route without it. */
  errorPages?: ErrorPageStore;
}

/** Pipelined requests a connection may have waiting; one more closes it. */
export const MAX_PIPELINED = 32;

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
  // Requests waiting behind the one being answered, per connection.
  const pipelined = new WeakMap<Socket, number>();
  const forwardDeps = { ...deps, log: logFailure };
  return function proxyRequest(req, res) {
    // Node hands over pipelined requests as it parses them, their responses
    // queued behind the first. Served only once its response has the socket:
    // one request per connection at a time (as kamal-proxy), so one connection
    // cannot open any number of requests to a target; and one whose connection
    // dies first is never started, where Node would never close its response
    // (its in-flight count would be held for good).
    if (res.socket === null) {
      const connection = req.socket;
      const waiting = (pipelined.get(connection) ?? 0) + 1;
      // Node parses every request sent ahead (about 2 KB each in memory, for some 40 bytes
      // sent) and has no bound of its own; clients that pipeline at all stay far below this.
      if (waiting > MAX_PIPELINED) {
        connection.destroy();
        return;
      }
      pipelined.set(connection, waiting);
      res.once('socket', () => {
        pipelined.set(connection, (pipelined.get(connection) ?? 1) - 1);
        proxyRequest(req, res);
      });
      return;
    }
    if (deps.draining()) res.shouldKeepAlive = false;
    const verdict = parseRequestTarget(req.url ?? '/', req.headers.host);
    if (!verdict.ok) {
      // The body is never read: close rather than drain it.
      res.shouldKeepAlive = false;
      deps.metrics.observe(undefined, res);
      sendErrorPage(res, 400, `This request cannot be served: ${verdict.reason}.`);
      return;
    }
    // Node takes any codings that end in chunked; the target would get the body still
    // coded (gzip...) with nothing saying so. Go's server, so kamal-proxy, answers 501 too.
    const coding = req.headers['transfer-encoding'];
    if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
      res.shouldKeepAlive = false;
      deps.metrics.observe(undefined, res);
      sendErrorPage(res, 501, 'This request cannot be served: its body is in a transfer coding other than chunked.');
      return;
    }
    const { path } = verdict.target;
    // Before the route lookup: the prefix is the agent's on every host, routed or not, in maintenance or not.
    if (isWebhookPath(path)) {
      deps.metrics.observe(undefined, res);
      forwardWebhook({ socketPath: deps.webhookSocket, log: logFailure }, req, res, verdict.target);
      return;
    }
    // Also before the route lookup: an ACME server validates a host before its first route exists.
    if (deps.tls && path.startsWith(CHALLENGE_PREFIX) && !('encrypted' in req.socket) && deps.tls.challenges.answer(req, res, path, normalizeHost(req.headers.host))) {
      deps.metrics.observe(undefined, res);
      return;
    }
    // The route the request log names: set on each lookup, a paused request being looked up again.
    const seen: { route?: Route } = {};
    deps.requestLog?.track(req, res, () => seen.route);
    routeRequest(req, res, verdict.target, undefined, seen);
  };

  // `deadline`: set when a paused request comes back after a route change.
  function routeRequest(req: IncomingMessage, res: ServerResponse, requested: RequestTarget, deadline: number | undefined, seen: { route?: Route }): void {
    if (res.destroyed) return;
    const { path } = requested;
    const host = normalizeHost(req.headers.host);
    const matched = host === undefined ? undefined : deps.table().match(host, path);
    seen.route = matched?.route;
    if (!matched) {
      deps.metrics.observe(undefined, res);
      sendErrorPage(res, 503, `There is no service for host ${host ?? '(none)'}.`);
      return;
    }
    const { route } = matched;
    bindErrorPages(req, route, deps.errorPages);
    if (deps.tls && wantsRedirect(route, 'encrypted' in req.socket, deps.tls.hasCertificate, host!)) {
      deps.metrics.observe(route.service, res);
      sendRedirect(res, redirectLocation(host!, requested.forward));
      return;
    }
    // What the app sees from here on, the health-path exemption included.
    const target = route.strip_path_prefix === true ? stripPathPrefix(requested, matched.prefix) : requested;
    // Answered here, so the target sees none of it and nothing is counted in flight.
    if (route.maintenance && !isHealthPath(route, target.path)) {
      deps.metrics.observe(route.service, res);
      sendMaintenancePage(req, res, route.maintenance.message ?? DEFAULT_MAINTENANCE_MESSAGE);
      return;
    }
    const again = (d: number): void => routeRequest(req, res, requested, d, seen);
    const timedOut = (s: number): void => {
      deps.metrics.observe(route.service, res);
      sendErrorPage(res, 504, pausedTooLong(s));
    };
    if (deps.pauses.holdIfPaused(route, target.path, req.socket, deadline, again, timedOut)) return;
    if (refuseDeclaredRequestBody(req, res, route)) {
      deps.metrics.observe(route.service, res);
      return;
    }
    const chosen = deps.balancer.pick(route);
    let release = deps.inflight.start(chosen);
    let failover: Failover | undefined;
    if (typeof route.target === 'string') {
      // One 'close' listener releases the in-flight count and records the request.
      deps.metrics.observe(route.service, res, release);
    } else {
      deps.metrics.observe(route.service, res, () => release());
      failover = {
        failed: (t) => deps.balancer.failed(route, t),
        retarget: (from) => {
          const next = deps.balancer.pickInRotation(route, from);
          if (next === undefined) return undefined;
          const moved = deps.inflight.start(next);
          release();
          release = moved;
          return next;
        },
      };
    }
    try {
      forward(forwardDeps, req, res, route, target, chosen, failover);
    } catch (err) {
      // A synchronous throw here would be uncaught in the request listener and take the router down.
      forwardDeps.log(chosen, err instanceof Error ? err.message : String(err));
      if (!res.headersSent) sendErrorPage(res, 502, 'The service could not be reached.');
      else res.destroy();
    }
  }
}
