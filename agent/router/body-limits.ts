// Kamal's buffering limits (max_request_body, max_response_body) applied to
// streamed bodies: the router counts bytes as they pass instead of buffering
// them. A declared length over the limit is refused before any byte moves; a
// streamed body is cut as soon as it passes the limit, so no more than the
// limit ever reaches the other side.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { renderErrorPage } from './pages.js';
import { routeErrorPage } from './error-pages.js';
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
export function refuseRequestBody(req: IncomingMessage, res: ServerResponse, limit: number): void {
  refuseBody(req, res, 413, `The request body is larger than this service accepts (${limit} bytes).`);
}

/** As refuseRequestBody, when the router's buffer files fill its disk budget: 503, to be tried again later. */
export function refuseUnbufferableBody(req: IncomingMessage, res: ServerResponse): void {
  refuseBody(req, res, 503, 'The request body cannot be held right now; try again later.', { 'retry-after': '10' });
}

function refuseBody(req: IncomingMessage, res: ServerResponse, status: 413 | 503, detail: string, extra: Record<string, string> = {}): void {
  res.shouldKeepAlive = false;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const page = routeErrorPage(req, status) ?? renderErrorPage(status, detail);
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page), 'cache-control': 'no-store', ...extra });
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
 * The client's body as the target gets it. Piped rather than handed over, so
 * a failing upstream leg ends the pipe without destroying the client's
 * request, and the client still gets its error page. Over the route's limit
 * the target's request is aborted (`abortUpstream`, first, so its failure is
 * not taken for the target's), and the client gets 413 if its answer has not
 * started, a cut connection otherwise.
 */
export function limitedRequestBody(req: IncomingMessage, res: ServerResponse, route: Route, abortUpstream: () => void): Readable {
  const limit = requestBodyLimit(route);
  if (limit === undefined) return req.pipe(new PassThrough());
  const counter = byteLimit(limit, () => {
    req.unpipe(counter);
    abortUpstream();
    // Destroyed, not left open: the upstream leg's body writer sees it and drops the target's connection.
    setImmediate(() => counter.destroy(new Error('request body over the limit')));
    refuseRequestBody(req, res, limit);
  });
  return req.pipe(counter);
}

/** The Content-Length of a raw header list (name, value, name, value ...), undefined when absent or malformed. */
export function rawContentLength(rawHeaders: readonly Buffer[]): number | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 14 || name.toString('latin1').toLowerCase() !== 'content-length') continue;
    const value = rawHeaders[i + 1]!.toString('latin1').trim();
    return /^\d{1,16}$/.test(value) ? Number(value) : undefined;
  }
  return undefined;
}
