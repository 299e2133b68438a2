// The reverse proxy: one request in, one request to the routed target, bodies
// streamed both ways. Every path ends the client's response exactly once:
// the target's answer, an error page, or a destroyed socket when the answer
// had already started.

import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { forwardRequestHeaders, forwardResponseHeaders, hasRequestBody } from './headers.js';
import type { InflightCounter } from './inflight.js';
import { DEFAULT_MAINTENANCE_MESSAGE } from '../../shared/maintenance.js';
import { acceptsHtml, renderErrorPage, renderMaintenancePage, type ErrorPageStatus } from './pages.js';
import { parseRequestTarget, type RequestTarget } from './request-target.js';
import { splitTarget } from '../../shared/routes.js';
import { DEFAULT_RESPONSE_TIMEOUT_S, isHealthPath, normalizeHost, type RouteTable } from './table.js';
import type { TargetPool } from './target-pool.js';
import type { Route } from './types.js';
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
}

const RETRYABLE_METHODS = new Set(['GET', 'HEAD']);

/** What a client in maintenance is told to wait before trying again. */
export const MAINTENANCE_RETRY_AFTER_S = 60;

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

interface ForwardDeps {
  pool: TargetPool;
  log: (target: string, message: string) => void;
  idleTimeoutMs: number;
}

function forward(deps: ForwardDeps, req: IncomingMessage, res: ServerResponse, route: Route, requestTarget: RequestTarget): void {
  const target = splitTarget(route.target);
  if (!target) {
    sendErrorPage(res, 502, 'The service has no valid target.');
    return;
  }
  const headers = forwardRequestHeaders(req.headers, {
    clientIp: req.socket.remoteAddress,
    proto: 'http',
    nowMs: Date.now(),
    newRequestId: randomUUID,
    trustForwarded: route.forward_headers === true,
  });
  const withBody = hasRequestBody(req.headers);
  const canRetry = !withBody && RETRYABLE_METHODS.has(req.method ?? '');
  const timeoutMs = (route.response_timeout ?? DEFAULT_RESPONSE_TIMEOUT_S) * 1000;
  let current: ClientRequest | undefined;
  let clientGone = false;

  res.once('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      current?.destroy();
    }
  });

  const send = (fresh: boolean): void => {
    let timedOut = false;
    const upstream = httpRequest({
      host: target.host,
      port: target.port,
      method: req.method,
      // What the route was chosen by, in origin-form, never the raw target.
      path: requestTarget.forward,
      headers,
      // A retry goes on a new connection: the pool may hold more sockets the target closed.
      agent: fresh ? false : deps.pool.agentFor(route.target),
    });
    current = upstream;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const startClock = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        upstream.destroy(new Error('response timeout'));
      }, timeoutMs);
    };
    // The clock covers connecting (a vanished container IP may never answer a SYN)
    // and then waiting for the answer once the request is fully sent; a long
    // upload in between is not a timeout.
    let sent = false;
    startClock();
    if (withBody) {
      const connected = (): void => {
        if (!sent) clearTimeout(timer);
      };
      upstream.once('socket', (socket) => {
        if (socket.connecting) socket.once('connect', connected);
        else connected();
      });
    }
    upstream.once('finish', () => {
      sent = true;
      if (!answered) {
        startClock();
        // The client has nothing to send while the app works on its answer: only the response timeout applies.
        req.socket.setTimeout(0);
      }
    });

    upstream.once('response', (upRes) => {
      answered = true;
      clearTimeout(timer);
      req.socket.setTimeout(deps.idleTimeoutMs);
      if (clientGone) {
        upRes.destroy();
        return;
      }
      relayResponse(upRes, res);
    });

    upstream.on('error', (err: NodeJS.ErrnoException) => {
      answered = true;
      clearTimeout(timer);
      if (clientGone) return;
      // A pooled socket the target closed between requests fails like this; the
      // request never reached the app, so a bodiless GET/HEAD is safe to resend.
      if (!fresh && canRetry && !timedOut && upstream.reusedSocket && !res.headersSent && isStaleSocketError(err)) {
        send(true);
        return;
      }
      if (res.headersSent) {
        res.destroy();
      } else if (timedOut) {
        sendErrorPage(res, 504, `The service did not answer within ${timeoutMs / 1000} s.`);
      } else {
        deps.log(route.target, `error: target ${route.target} failed: ${err.code ?? err.message}`);
        sendErrorPage(res, 502, 'The service is not reachable.');
      }
    });

    if (withBody) {
      req.pipe(upstream);
    } else {
      upstream.end();
    }
  };

  send(false);
}

function relayResponse(upRes: IncomingMessage, res: ServerResponse): void {
  try {
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, forwardResponseHeaders(upRes.headers));
  } catch {
    // Headers node refuses to write cannot be relayed faithfully.
    upRes.destroy();
    sendErrorPage(res, 502, 'The service sent an invalid response.');
    return;
  }
  // Failures surface through 'close' below; without listeners a late socket
  // error on either stream would be thrown and take the router down.
  upRes.on('error', () => res.destroy());
  res.on('error', () => upRes.destroy());
  upRes.pipe(res);
  upRes.once('close', () => {
    // The target died mid-body: cut the client off so it sees a truncated answer,
    // not a complete-looking short one.
    if (!upRes.complete) res.destroy();
  });
}

function isStaleSocketError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNRESET' || err.code === 'EPIPE';
}

function sendMaintenancePage(req: IncomingMessage, res: ServerResponse, message: string): void {
  const html = acceptsHtml(req.headers.accept);
  const body = html ? renderMaintenancePage(message) : `${message}\n`;
  // The request body is never read: close instead of draining an upload on a kept-alive socket.
  if (hasRequestBody(req.headers)) res.shouldKeepAlive = false;
  res.writeHead(503, {
    'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'retry-after': String(MAINTENANCE_RETRY_AFTER_S),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendErrorPage(res: ServerResponse, status: ErrorPageStatus, detail: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = renderErrorPage(status, detail);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
