// The upstream leg of a routed request: one request to the target, bodies
// streamed both ways, the response timeout, and one retry of a stale pooled
// socket. Every path ends the client's response exactly once: the target's
// answer, an error page, or a destroyed socket when the answer had started.

import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { splitTarget } from '../../shared/routes.js';
import { forwardRequestHeaders, forwardResponseHeaders, hasRequestBody } from './headers.js';
import { sendErrorPage } from './answers.js';
import type { RequestTarget } from './request-target.js';
import { DEFAULT_RESPONSE_TIMEOUT_S } from './table.js';
import type { TargetPool } from './target-pool.js';
import type { Route } from './types.js';

const RETRYABLE_METHODS = new Set(['GET', 'HEAD']);

export interface ForwardDeps {
  pool: TargetPool;
  log: (target: string, message: string) => void;
  idleTimeoutMs: number;
}

export function forward(deps: ForwardDeps, req: IncomingMessage, res: ServerResponse, route: Route, requestTarget: RequestTarget): void {
  const target = splitTarget(route.target);
  if (!target) {
    sendErrorPage(res, 502, 'The service has no valid target.');
    return;
  }
  const headers = forwardRequestHeaders(req.headers, {
    clientIp: req.socket.remoteAddress,
    proto: 'encrypted' in req.socket ? 'https' : 'http',
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
