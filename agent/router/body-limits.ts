// Kamal's buffering limits (max_request_body, max_response_body) applied to
// streamed bodies: the router counts bytes as they pass instead of buffering
// them. A declared length over the limit is refused before any byte moves; a
// streamed body is cut as soon as it passes the limit, so no more than the
// limit ever reaches the other side.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Writable } from 'node:stream';
import { sendErrorPage } from './answers.js';
import { renderErrorPage } from './pages.js';
import type { Route } from './types.js';

/** The limits of a route, undefined for none (0 and absent mean unlimited). */
export function requestBodyLimit(route: Route): number | undefined {
  return route.buffering?.max_request_body || undefined;
}

export function responseBodyLimit(route: Route): number | undefined {
  return route.buffering?.max_response_body || undefined;
}

/** A Content-Length above the limit. Node has already refused malformed ones on requests. */
export function declaredOver(headers: IncomingHttpHeaders, limit: number | undefined): boolean {
  if (limit === undefined) return false;
  const declared = headers['content-length'];
  return declared !== undefined && Number(declared) > limit;
}

/**
 * Answers 413 for a request whose declared body is over the route's limit,
 * without reading the body (the connection is closed after the answer).
 * True when it answered.
 */
export function refuseDeclaredRequestBody(req: IncomingMessage, res: ServerResponse, route: Route): boolean {
  const limit = requestBodyLimit(route);
  if (!declaredOver(req.headers, limit)) return false;
  refuseRequestBody(req, res, limit!);
  return true;
}

/** How long the rest of a refused body is read (and dropped) before the connection closes. */
const LINGER_MS = 2000;

/**
 * 413 sent at once, `Connection: close`; the response ends (and the
 * connection closes) once the client has sent the rest of its body, read and
 * dropped, or after LINGER_MS. A socket closed with unread data is reset, and
 * a client still writing would see the reset instead of the 413.
 */
function refuseRequestBody(req: IncomingMessage, res: ServerResponse, limit: number): void {
  res.shouldKeepAlive = false;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const page = renderErrorPage(413, `The request body is larger than this service accepts (${limit} bytes).`);
  res.writeHead(413, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page), 'cache-control': 'no-store' });
  res.write(page);
  const end = (): void => {
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const timer = setTimeout(end, LINGER_MS);
  if (req.readableEnded) return end();
  req.once('end', end);
  req.once('close', end);
  req.resume();
}

/**
 * Passes chunks through until more than `limit` bytes went by; then calls
 * `onOverflow` once and passes nothing more (the chunk that crossed included).
 */
export function byteLimit(limit: number, onOverflow: () => void): Transform {
  let seen = 0;
  let over = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (over) return done();
      seen += chunk.byteLength;
      if (seen <= limit) return done(null, chunk);
      over = true;
      onOverflow();
      done();
    },
  });
}

/**
 * Streams the request body to the target. Over the route's limit the target's
 * request is aborted (`abortUpstream`, before anything else so its failure is
 * not taken for the target's), and the client gets 413 if its answer has not
 * started, a cut connection otherwise.
 */
export function pipeRequestBody(req: IncomingMessage, upstream: Writable, res: ServerResponse, route: Route, abortUpstream: () => void): void {
  const limit = requestBodyLimit(route);
  if (limit === undefined) {
    req.pipe(upstream);
    return;
  }
  const counter = byteLimit(limit, () => {
    req.unpipe(counter);
    abortUpstream();
    refuseRequestBody(req, res, limit);
  });
  req.pipe(counter).pipe(upstream);
}

/**
 * Relays the target's body. A declared length over the route's limit is 502
 * before anything is sent; a streamed body that passes it cuts the client's
 * connection (its answer has started), so it sees a truncated response.
 * Returns false when it answered 502 instead of relaying.
 */
export function responseFits(upRes: IncomingMessage, res: ServerResponse, route: Route): boolean {
  const limit = responseBodyLimit(route);
  // HEAD answers and 304s declare a length they do not send.
  if (res.req.method === 'HEAD' || upRes.statusCode === 304 || !declaredOver(upRes.headers, limit)) return true;
  upRes.destroy();
  sendErrorPage(res, 502, `The service's answer is larger than this route allows (${limit} bytes).`);
  return false;
}

export function pipeResponseBody(upRes: IncomingMessage, res: ServerResponse, route: Route): void {
  const limit = responseBodyLimit(route);
  if (limit === undefined) {
    upRes.pipe(res);
    return;
  }
  upRes
    .pipe(
      byteLimit(limit, () => {
        upRes.destroy();
        res.destroy();
      }),
    )
    .pipe(res);
}
