// WebSocket upgrades through the router: the same checks as an ordinary
// request (request target, webhooks, route, maintenance, pause), then the
// request goes to the route's target with its upgrade pair, and a 101 joins
// the two sockets byte for byte until either side closes. Any other answer is
// relayed as the connection's last response. The router never parses frames.
// An upgraded connection counts as in flight on its target for its whole
// life, so a drain waits for it (up to drain_timeout). Other upgrade
// protocols (h2c...) are served as plain requests, as before upgrades were
// relayed: after an h2c switch a client could send requests the router never
// checks (forwarding headers, path routing, maintenance).

import { request as httpRequest, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Balancer } from './balancer.js';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { DEFAULT_MAINTENANCE_MESSAGE } from '../../shared/maintenance.js';
import { splitTarget } from '../../shared/routes.js';
import { MAINTENANCE_RETRY_AFTER_S } from './answers.js';
import { hasRequestBody } from './headers.js';
import type { InflightCounter } from './inflight.js';
import { acceptsHtml, renderErrorPage, renderMaintenancePage, type ErrorPageStatus } from './pages.js';
import { pausedTooLong, type PauseGate } from './pause.js';
import { parseRequestTarget, stripPathPrefix, type RequestTarget } from './request-target.js';
import { DEFAULT_RESPONSE_TIMEOUT_S, isHealthPath, normalizeHost, type RouteTable } from './table.js';
import type { Route } from './types.js';
import { bindErrorPages, maintenancePageOf, routeErrorPage, type ErrorPageStore } from './error-pages.js';
import { isWebSocketUpgrade, rawAnswer, relayedResponseHead, upgradeRequestHeaders } from './upgrade-headers.js';
import { isWebhookPath } from './webhooks.js';

export interface UpgradeDeps {
  table: () => RouteTable;
  inflight: InflightCounter;
  /** Which target of a route gets each upgrade; told when one cannot be reached. */
  balancer: Pick<Balancer, 'pick' | 'failed'>;
  pauses: PauseGate;
  /** Rate-limited per target, as the proxy's failure log. */
  log: (target: string, message: string) => void;
  /** The scheme the server speaks, for X-Forwarded-Proto. */
  proto: 'http' | 'https';
  /** The ordinary request handler: serves upgrade requests that are not relayed as WebSockets. */
  plain: (req: IncomingMessage, res: ServerResponse) => void;
  /** The server's socket inactivity timeout, lifted while the target works on its answer. */
  idleTimeoutMs: number;
  /** The app's error pages; the router's own when absent. */
  errorPages?: ErrorPageStore;
}

export interface UpgradeRelay {
  /** Connections that entered the upgrade path and are still open. */
  readonly open: number;
  /** Cuts them all (router shutdown: a WebSocket cannot outlive the process anyway). */
  closeAll(): void;
}

// Dead peers of a quiet WebSocket are found by TCP, not by an idle timeout that would cut live ones.
const KEEPALIVE_DELAY_MS = 60_000;
// After the router's last answer on a connection, how long the client has to close its side.
const ANSWERED_LINGER_MS = 5_000;

/** Handles `server`'s upgrade requests; attach once per listening server (HTTP, HTTPS). */
export function attachUpgrades(server: Server, deps: UpgradeDeps): UpgradeRelay {
  const live = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // Node removed its own listeners from this socket: without one an ECONNRESET would be thrown.
    socket.on('error', () => socket.destroy());
    // Node also removed its idle-timeout listener, leaving the server's timeout armed on the socket to no effect:
    // a client that stops reading, or never closes after its answer, would hold the connection (and its in-flight count) for good.
    socket.on('timeout', () => socket.destroy());
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    // Node takes an upgrade pipelined behind a request whose answer is still being written:
    // anything sent now would land inside that answer's body.
    if ((socket as { _httpMessage?: unknown })._httpMessage) return void socket.destroy();
    try {
      accept(deps, req, socket, head);
    } catch (err) {
      // A synchronous throw here would be uncaught in the listener and take the router down.
      deps.log('upgrade', `error: upgrade failed: ${err instanceof Error ? err.message : String(err)}`);
      socket.destroy();
    }
  });
  return {
    get open() {
      return live.size;
    },
    closeAll() {
      for (const socket of live) socket.destroy();
    },
  };
}

function accept(deps: UpgradeDeps, req: IncomingMessage, socket: Socket, head: Buffer): void {
  // Node's Host check does not run on upgrades; an HTTP/1.1 request without one is malformed.
  if (req.headers.host === undefined) return answerError(socket, req, 400, 'This request cannot be served: a Host header is required.');
  // Node parses no body after an upgrade head: bytes after it would reach the
  // target unframed (read as WebSocket frames), or be lost when handed back.
  if (hasRequestBody(req.headers)) return answerError(socket, req, 400, 'This request cannot be served: an Upgrade request must not carry a body.');
  const verdict = parseRequestTarget(req.url ?? '/', req.headers.host);
  if (!verdict.ok || !isWebSocketUpgrade(req.method, req.headers) || isWebhookPath(verdict.target.path)) return servePlain(deps, req, socket);
  dispatch(deps, req, socket, head, verdict.target, undefined);
}

function dispatch(deps: UpgradeDeps, req: IncomingMessage, socket: Socket, head: Buffer, requested: RequestTarget, deadline: number | undefined): void {
  if (socket.destroyed) return;
  const host = normalizeHost(req.headers.host);
  const matched = host === undefined ? undefined : deps.table().match(host, requested.path);
  if (!matched) return answerError(socket, req, 503, `There is no service for host ${host ?? '(none)'}.`);
  const { route } = matched;
  bindErrorPages(req, route, deps.errorPages);
  // As for a plain request: the app, and the health-path exemption, see the stripped path.
  const target = route.strip_path_prefix === true ? stripPathPrefix(requested, matched.prefix) : requested;
  if (route.maintenance && !isHealthPath(route, target.path)) return answerMaintenance(socket, req, route.maintenance.message ?? DEFAULT_MAINTENANCE_MESSAGE);
  const held = deps.pauses.holdIfPaused(
    route, target.path, socket, deadline,
    (d) => dispatch(deps, req, socket, head, requested, d),
    (s) => answerError(socket, req, 504, pausedTooLong(s)),
  );
  if (held) return;
  try {
    relay(deps, req, socket, head, route, target);
  } catch (err) {
    // Also reached from a pause's timer, where a throw would take the router down.
    deps.log(route.service, `error: upgrade for ${route.service} failed: ${err instanceof Error ? err.message : String(err)}`);
    socket.destroy();
  }
}

function relay(deps: UpgradeDeps, req: IncomingMessage, socket: Socket, head: Buffer, route: Route, target: RequestTarget): void {
  const chosen = deps.balancer.pick(route);
  const address = splitTarget(chosen);
  if (!address) return answerError(socket, req, 502, 'The service has no valid target.');
  // Until either side closes: an open WebSocket keeps its old target draining.
  const release = deps.inflight.start(chosen);
  socket.once('close', release);
  const timeoutS = route.response_timeout ?? DEFAULT_RESPONSE_TIMEOUT_S;
  const upstream = httpRequest({
    host: address.host,
    port: address.port,
    method: 'GET',
    path: target.forward,
    headers: upgradeRequestHeaders(req.headers, {
      clientIp: socket.remoteAddress,
      proto: deps.proto,
      nowMs: Date.now(),
      newRequestId: randomUUID,
      trustForwarded: route.forward_headers === true,
    }),
    agent: false,
  });
  let answered = false;
  let timedOut = false;
  // The response timeout governs the wait for the target's answer, as for plain requests.
  socket.setTimeout(0);
  // Connecting and the target's answer to the upgrade, not the connection's life.
  const timer = setTimeout(() => {
    timedOut = true;
    upstream.destroy(new Error('response timeout'));
  }, timeoutS * 1000);
  socket.once('close', () => upstream.destroy());

  upstream.once('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    answered = true;
    clearTimeout(timer);
    upSocket.on('error', () => upSocket.destroy());
    if (socket.destroyed) return void upSocket.destroy();
    // A quiet WebSocket is not idle: the server's inactivity timeout no longer applies.
    socket.setTimeout(0);
    for (const s of [socket, upSocket]) {
      s.setNoDelay(true);
      s.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    }
    socket.write(relayedResponseHead(101, upRes.statusMessage, upRes.rawHeaders, 'upgrade'));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    upSocket.once('close', () => socket.destroy());
    socket.once('close', () => upSocket.destroy());
  });

  upstream.once('response', (upRes) => {
    answered = true;
    clearTimeout(timer);
    upRes.on('error', () => socket.destroy());
    if (socket.destroyed) return void upRes.destroy();
    socket.setTimeout(deps.idleTimeoutMs);
    // Refused or redirected: relayed as the last answer on this connection.
    socket.write(relayedResponseHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders, 'close'));
    upRes.pipe(socket);
    upRes.once('end', () => lingerThenClose(socket));
    upRes.once('close', () => {
      if (!upRes.complete) socket.destroy();
    });
  });

  upstream.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    if (socket.destroyed) return;
    if (answered) return void socket.destroy();
    if (timedOut) return answerError(socket, req, 504, `The service did not answer within ${timeoutS} s.`);
    deps.balancer.failed(route, chosen);
    deps.log(chosen, `error: target ${chosen} failed: ${err.code ?? err.message}`);
    answerError(socket, req, 502, 'The service is not reachable.');
  });
  upstream.end();
}

/** An upgrade request that is not relayed goes through the ordinary handler, as its connection's last request. */
function servePlain(deps: UpgradeDeps, req: IncomingMessage, socket: Socket): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  // Left attached: the socket's close is what tells the handler the response is over.
  res.once('finish', () => {
    socket.end();
    lingerThenClose(socket);
  });
  deps.plain(req, res);
}

function answerError(socket: Socket, req: IncomingMessage, status: ErrorPageStatus, detail: string): void {
  const page = routeErrorPage(req, status) ?? renderErrorPage(status, detail);
  writeAnswer(socket, rawAnswer(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, page, req.method !== 'HEAD'));
}

function answerMaintenance(socket: Socket, req: IncomingMessage, message: string): void {
  const custom = maintenancePageOf(req, message);
  const html = custom !== undefined || acceptsHtml(req.headers.accept);
  const headers = {
    'Content-Type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    'Retry-After': String(MAINTENANCE_RETRY_AFTER_S),
  };
  writeAnswer(socket, rawAnswer(503, headers, custom ?? (html ? renderMaintenancePage(message) : `${message}\n`), true));
}

function writeAnswer(socket: Socket, bytes: string): void {
  if (socket.destroyed) return;
  socket.end(bytes);
  lingerThenClose(socket);
}

/** A client that keeps the connection open after the last answer gets no more of it (the 'timeout' listener destroys it). */
function lingerThenClose(socket: Socket): void {
  if (!socket.destroyed) socket.setTimeout(ANSWERED_LINGER_MS);
}
