// The upstream leg of a routed request: one request to the target on a pooled
// connection (target-pool.ts), bodies streamed both ways, the response
// timeout, and one retry of a stale pooled socket. Every path ends the
// client's response exactly once: the target's answer, an error page, or a
// destroyed socket when the answer had started.
//
// One Exchange object per request is undici's handler: no Promise, stream or
// closure per callback, one 'close' listener and one timer; this leg is most
// of the router's CPU per request (docs/router.md "Throughput").

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { limitedRequestBody, rawContentLength, responseBodyLimit } from './body-limits.js';
import type { Spool } from './buffer-store.js';
import { bufferRequestBody, buffersRequests, buffersResponses, HeldResponse, holdsResponse } from './buffering.js';
import { forwardRawResponseHeaders, forwardRequestHeaders, hasRequestBody } from './headers.js';
import { sendErrorPage } from './answers.js';
import { Attempt, CONNECT_DEADLINE_MS, CONNECT_TOO_SLOW, mayResend, type Failover } from './failover.js';
import type { RequestMetrics } from './metrics.js';
import type { RequestTarget } from './request-target.js';
import { DEFAULT_RESPONSE_TIMEOUT_S } from './table.js';
import type { TargetPool, UpstreamHandler, UpstreamRequest } from './target-pool.js';
import type { Route } from './types.js';

// Errors of a socket the target closed between two requests.
const STALE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
// Lifting the client's idle timeout costs two timer updates per request, so
// it is lifted only when the wait for the answer could outlast it; this margin
// covers the time between the client's last byte and the start of the wait.
const IDLE_MARGIN_MS = 1_000;

export interface ForwardDeps {
  pool: TargetPool;
  log: (target: string, message: string) => void;
  idleTimeoutMs: number;
  /** Told when a target answers or cannot be reached (its up/down gauge). */
  metrics: Pick<RequestMetrics, 'targetFailed' | 'targetAnswered'>;
  /** Where buffered bodies spill (buffering.ts). */
  spool: Spool;
}

export function forward(
  deps: ForwardDeps,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  requestTarget: RequestTarget,
  target: string,
  failover?: Failover,
): void {
  const nowMs = Date.now();
  const headers = forwardRequestHeaders(req.headers, {
    clientIp: req.socket.remoteAddress,
    proto: 'encrypted' in req.socket ? 'https' : 'http',
    nowMs,
    newRequestId: randomUUID,
    trustForwarded: route.forward_headers === true,
  });
  const request: UpstreamRequest = {
    method: req.method ?? 'GET',
    // What the route was chosen by, in origin-form, never the raw target.
    path: requestTarget.forward,
    headers,
    body: null,
  };
  const timeoutMs = (route.response_timeout ?? DEFAULT_RESPONSE_TIMEOUT_S) * 1000;
  if (hasRequestBody(req.headers) && buffersRequests(route)) {
    // The target is asked only once the whole body is here, with its length.
    bufferRequestBody(deps.spool, req, res, route, (m) => deps.log(target, m), (body, length) => {
      headers['content-length'] = String(length);
      request.body = body;
      new Exchange(deps, req, res, route, target, request, timeoutMs, Date.now(), failover).start();
    });
    return;
  }
  const exchange = new Exchange(deps, req, res, route, target, request, timeoutMs, nowMs, failover);
  if (hasRequestBody(req.headers)) request.body = limitedRequestBody(req, res, route, () => exchange.refuseBody());
  exchange.start();
}

class Exchange implements UpstreamHandler {
  connection: UpstreamHandler['connection'];
  #abort: ((err?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timedOut = false;
  /** The target's answer started: from here on a failure can only cut the client off. */
  #answered = false;
  /** The client has its answer or went away: nothing more goes to it. */
  #done = false;
  #reused = false;
  #retried = false;
  #idleLifted = false;
  /** Bytes of the answer relayed, counted only when the route limits them. */
  #relayed = 0;
  /** The answer being held until complete (buffering.ts), when the route buffers responses. */
  #held: HeldResponse | undefined;
  #target: string;
  /** The live try, for a route with several targets (failover.ts). */
  #attempt: Attempt | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  readonly #responseLimit: number | undefined;
  readonly #route: Route;

  constructor(
    private readonly deps: ForwardDeps,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    route: Route,
    target: string,
    private readonly request: UpstreamRequest,
    private readonly timeoutMs: number,
    private readonly startMs: number,
    private readonly failover: Failover | undefined,
  ) {
    this.#target = target;
    this.#responseLimit = responseBodyLimit(route);
    this.#route = route;
  }

  start(): void {
    this.res.once('close', () => {
      this.#held?.body.dispose();
      if (this.res.writableFinished) return;
      // The client went away: stop the upstream request, now or as soon as it is on a connection.
      this.#done = true;
      clearTimeout(this.#timer);
      this.#abort?.();
    });
    // The clock covers connecting (a vanished container IP may never answer a SYN)
    // and then waiting for the answer once the request is fully sent.
    this.#timer = setTimeout(onResponseTimeout, this.timeoutMs, this);
    if (!this.#send(this.#target, false)) {
      this.#finish();
      if (this.request.body && 'destroy' in this.request.body) this.request.body.destroy();
      sendErrorPage(this.res, 502, 'The service has no valid target.');
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    clearTimeout(this.#connectTimer);
    this.#abort = abort;
    if (this.#done) {
      abort();
      return;
    }
    this.#reused = this.connection?.nextRequestReuses() ?? false;
    // Connected: a long upload from here on is not a timeout.
    if (this.request.body) clearTimeout(this.#timer);
  }

  onRequestSent(): void {
    if (this.#answered || this.#done) return;
    if (this.request.body) this.#timer = setTimeout(onResponseTimeout, this.timeoutMs, this);
    else this.#timer?.refresh();
    // The client has nothing to send while the app works on its answer: only the response timeout applies.
    if (Date.now() - this.startMs + this.timeoutMs + IDLE_MARGIN_MS >= this.deps.idleTimeoutMs) {
      this.#idleLifted = true;
      this.req.socket.setTimeout(0);
    }
  }

  /** The request body passed the route's limit: the client is answered 413 (body-limits.ts), the target's request aborted. */
  refuseBody(): void {
    this.#finish();
    this.#abort?.();
  }

  timeout(): void {
    this.#timedOut = true;
    if (this.#abort) {
      this.#abort(new Error('response timeout'));
      return;
    }
    // Still waiting for a connection: answer now, abort once connected (onConnect).
    this.#finish();
    sendErrorPage(this.res, 504, `The service did not answer within ${this.timeoutMs / 1000} s.`);
  }

  // The response relay: head, chunks with the client's backpressure, end.
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx (103 Early Hints): informational, the final answer follows.
    if (statusCode < 200 || this.#done) return true;
    this.#answered = true;
    this.#resume = resume;
    clearTimeout(this.#timer);
    this.#restoreIdle();
    this.deps.metrics.targetAnswered(this.#target);
    const limit = this.#responseLimit;
    // HEAD answers and 304s declare a length they do not send.
    if (limit !== undefined && this.req.method !== 'HEAD' && statusCode !== 304 && (rawContentLength(rawHeaders) ?? 0) > limit) {
      this.#finish();
      sendErrorPage(this.res, 502, `The service's answer is larger than this route allows (${limit} bytes).`);
      this.#abort?.();
      return true;
    }
    if (buffersResponses(this.#route) && holdsResponse(this.request.method, statusCode, rawHeaders)) {
      this.#held = new HeldResponse(this.deps.spool, this.#route, statusCode, statusText, rawHeaders);
      return true;
    }
    try {
      this.res.writeHead(statusCode, statusText, forwardRawResponseHeaders(rawHeaders));
    } catch {
      // Headers node refuses to write cannot be relayed faithfully.
      this.#finish();
      sendErrorPage(this.res, 502, 'The service sent an invalid response.');
      this.#abort?.();
      return true;
    }
    // Complete with its head (RFC 9110 §8.6: a 304 may declare the length of
    // what it does not send); undici would wait for that body and then fail.
    if (statusCode === 304) this.onComplete();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#done) return true;
    if (this.#held) return this.#hold(this.#held, chunk);
    if (this.#responseLimit !== undefined && (this.#relayed += chunk.byteLength) > this.#responseLimit) {
      // Streamed past the limit: the client sees a truncated answer, never more than the limit.
      this.#finish();
      this.res.destroy();
      this.#abort?.();
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#held) this.#sendHeld(this.#held);
    else this.res.end();
  }

  #hold(held: HeldResponse, chunk: Buffer): boolean {
    const added = held.body.add(chunk);
    if (added === 'over' || added === 'full') {
      this.#finish();
      if (added === 'over') sendErrorPage(this.res, 502, `The service's answer is larger than this route allows (${this.#responseLimit} bytes).`);
      else {
        this.deps.log(this.#target, `warning: an answer of ${this.#target} was refused: the buffer files hold the router's disk budget (--buffer-disk-max)`);
        sendErrorPage(this.res, 503, `The service's answer cannot be held right now; try again later.`);
      }
      this.#abort?.();
      return true;
    }
    held.touch(this.req, this.deps.idleTimeoutMs);
    if (added === 'more') return true;
    held.body.onDrain(this.#resume!);
    return false;
  }

  #sendHeld(held: HeldResponse): void {
    held.body.finish((err) => {
      // The client went away meanwhile: the close listener freed the buffer.
      if (this.res.destroyed) return;
      if (err) {
        this.deps.log(this.#target, `error: buffering an answer of ${this.#target} failed: ${err.message}`);
        sendErrorPage(this.res, 500, `The service's answer could not be buffered.`);
      } else if (!held.send(this.res)) {
        sendErrorPage(this.res, 502, 'The service sent an invalid response.');
      }
    });
  }

  onError(err: Error & { code?: string }): void {
    clearTimeout(this.#timer);
    if (this.#done) return;
    // A pooled socket the target closed between requests fails like this; the
    // request never reached the app, so a bodiless GET/HEAD is safe to resend, once.
    if (this.#reused && !this.#answered && !this.#timedOut && !this.#retried && this.#canRetry() && STALE_SOCKET_ERRORS.has(err.code ?? '')) {
      this.#retried = true;
      this.#reused = false;
      this.#abort = undefined;
      this.connection = undefined;
      this.#timer = setTimeout(onResponseTimeout, this.timeoutMs, this);
      this.#send(this.#target, true);
      return;
    }
    if (!this.#answered && !this.#timedOut && this.#tryElsewhere(err.code ?? err.message, err.code)) return;
    this.#finish();
    if (this.#held) {
      // Nothing of the held answer went out: the client gets a complete error instead.
      sendErrorPage(this.res, 502, `The service's answer broke off.`);
    } else if (this.#answered) {
      // The target died mid-body: cut the client off so it sees a truncated answer, not a complete-looking short one.
      this.res.destroy();
    } else if (this.#timedOut) {
      sendErrorPage(this.res, 504, `The service did not answer within ${this.timeoutMs / 1000} s.`);
    } else {
      this.deps.metrics.targetFailed(this.#target);
      this.deps.log(this.#target, `error: target ${this.#target} failed: ${err.code ?? err.message}`);
      sendErrorPage(this.res, 502, 'The service is not reachable.');
    }
  }

  /** No connection by the connect deadline (a route with several targets): another target may get the request. */
  connectTooSlow(): void {
    if (this.#done || this.#abort !== undefined || this.#answered) return;
    this.#tryElsewhere(`no connection within ${CONNECT_DEADLINE_MS / 1000} s`, CONNECT_TOO_SLOW);
  }

  /** Sends the request to `target` on a pooled connection, or a fresh one; false when that is no target. */
  #send(target: string, fresh: boolean): boolean {
    if (!this.failover) {
      if (!fresh) return this.deps.pool.dispatch(target, this.request, this);
      this.deps.pool.dispatchFresh(target, this.request, this);
      return true;
    }
    if (this.#attempt) this.#attempt.live = false;
    const attempt = (this.#attempt = new Attempt(this));
    clearTimeout(this.#connectTimer);
    this.#connectTimer = setTimeout(onConnectDeadline, Math.min(CONNECT_DEADLINE_MS, this.timeoutMs), this);
    if (!fresh) return this.deps.pool.dispatch(target, this.request, attempt);
    this.deps.pool.dispatchFresh(target, this.request, attempt);
    return true;
  }

  /**
   * The target failed before answering: out of rotation, and the request goes
   * once to another target when that is safe (failover.ts mayResend). True
   * when it went; false leaves the failure to the caller.
   */
  #tryElsewhere(why: string, code: string | undefined): boolean {
    if (!this.failover) return false;
    const failed = this.#target;
    this.failover.failed(failed);
    const next = !this.#retried && mayResend(this.request.method, this.request.body, code) ? this.failover.retarget(failed) : undefined;
    if (next === undefined) return false;
    this.deps.metrics.targetFailed(failed);
    this.deps.log(failed, `error: target ${failed} failed: ${why}; request sent to ${next}`);
    this.#retried = true;
    this.#reused = false;
    this.#abort = undefined;
    this.connection = undefined;
    this.#target = next;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(onResponseTimeout, this.timeoutMs, this);
    this.#send(next, false);
    return true;
  }

  #canRetry(): boolean {
    return this.request.body === null && (this.request.method === 'GET' || this.request.method === 'HEAD');
  }

  #finish(): void {
    this.#done = true;
    clearTimeout(this.#connectTimer);
    this.#held?.body.dispose();
    clearTimeout(this.#timer);
    this.#restoreIdle();
  }

  #restoreIdle(): void {
    if (!this.#idleLifted) return;
    this.#idleLifted = false;
    this.req.socket.setTimeout(this.deps.idleTimeoutMs);
  }
}

function onResponseTimeout(exchange: Exchange): void {
  exchange.timeout();
}

function onConnectDeadline(exchange: Exchange): void {
  exchange.connectTooSlow();
}
