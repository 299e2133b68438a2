// Kamal's whole-body buffering (`buffering.requests`, `responses`, `memory`),
// as kamal-proxy does it: a request's body is read whole before the target is
// asked, so a slow client never holds an app worker; a response is read whole
// before the client gets its head, so a slow client never holds the app's
// connection. Bodies go to memory, then to disk (buffer-store.ts), bounded by
// max_request_body (413, the target never asked) and max_response_body (502).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { sendErrorPage } from './answers.js';
import { rawContentLength, refuseRequestBody, refuseUnbufferableBody, requestBodyLimit, responseBodyLimit } from './body-limits.js';
import { BodyBuffer, DEFAULT_BUFFER_MEMORY, type Spool } from './buffer-store.js';
import { forwardRawResponseHeaders } from './headers.js';
import type { Route } from './types.js';

// A held answer moves nothing on the client's connection: the idle clock is
// restarted as the target's bytes come, at most this often.
const TOUCH_EVERY_MS = 1_000;

export function buffersRequests(route: Route): boolean {
  return route.buffering?.requests === true;
}

export function buffersResponses(route: Route): boolean {
  return route.buffering?.responses === true;
}

function memoryOf(route: Route): number {
  return route.buffering?.memory ?? DEFAULT_BUFFER_MEMORY;
}

/**
 * Reads the client's whole body, then calls `ready` with it (one Buffer, a
 * stream when it spilled to disk, null when empty) and its length. Over the
 * route's limit the client gets 413 and `ready` is never called. Whatever
 * happens, the buffer is freed when the response closes.
 */
export function bufferRequestBody(
  spool: Spool,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  log: (message: string) => void,
  ready: (body: Buffer | Readable | null, length: number) => void,
): void {
  const limit = requestBodyLimit(route);
  const buffer = new BodyBuffer(spool, memoryOf(route), limit);
  res.once('close', () => buffer.dispose());
  const onData = (chunk: Buffer): void => {
    const added = buffer.add(chunk);
    if (added === 'more') return;
    if (added === 'wait') {
      req.pause();
      buffer.onDrain(() => req.resume());
      return;
    }
    req.off('data', onData);
    req.off('end', onEnd);
    buffer.dispose();
    if (added === 'full') {
      log(`warning: a request body for ${route.service} was refused: the buffer files hold the router's disk budget (--buffer-disk-max)`);
      refuseUnbufferableBody(req, res);
      return;
    }
    refuseRequestBody(req, res, limit!);
  };
  const onEnd = (): void =>
    buffer.finish((err) => {
      if (res.destroyed) return;
      if (err) {
        log(`error: buffering a request body for ${route.service} failed: ${err.message}`);
        sendErrorPage(res, 500, 'The request could not be buffered.');
        return;
      }
      ready(buffer.size === 0 ? null : (buffer.data() ?? buffer.stream()), buffer.size);
    });
  req.on('data', onData);
  req.once('end', onEnd);
  // A client gone mid-body: its response closes too, which frees the buffer.
  req.once('error', () => res.destroy());
}

/**
 * Whether an answer is held until complete: not one without a body (HEAD,
 * 204, 304), nor one that streams by nature, which kamal-proxy passes through
 * too: server-sent events and chunked answers (whose end the app decides).
 */
export function holdsResponse(method: string, statusCode: number, rawHeaders: readonly Buffer[]): boolean {
  if (method === 'HEAD' || statusCode === 204 || statusCode === 304) return false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 17 && name.toString('latin1').toLowerCase() === 'transfer-encoding') return false;
    if (name.length === 12 && name.toString('latin1').toLowerCase() === 'content-type') {
      if (/^\s*text\/event-stream\s*(?:;|$)/i.test(rawHeaders[i + 1]!.toString('latin1'))) return false;
    }
  }
  return true;
}

/** A target's answer held until complete: its head as received, its body in a BodyBuffer. */
export class HeldResponse {
  readonly body: BodyBuffer;
  #touched = 0;

  constructor(
    spool: Spool,
    route: Route,
    readonly statusCode: number,
    readonly statusText: string,
    readonly rawHeaders: Buffer[],
  ) {
    this.body = new BodyBuffer(spool, memoryOf(route), responseBodyLimit(route));
  }

  /** The client's idle clock restarted while the target's bytes come (nothing moves on the client's connection meanwhile). */
  touch(req: IncomingMessage, idleTimeoutMs: number): void {
    const now = Date.now();
    // At the head the client's clock has a second left at least (forward.ts lifts it
    // otherwise), so the first chunk starts the count: a small answer costs no timer update.
    if (this.#touched === 0) this.#touched = now;
    if (now - this.#touched < TOUCH_EVERY_MS) return;
    this.#touched = now;
    req.socket.setTimeout(idleTimeoutMs);
  }

  /** Writes the head, with the length now known, then the body; false (nothing written) when Node refuses the head. */
  send(res: ServerResponse): boolean {
    const headers = forwardRawResponseHeaders(this.rawHeaders);
    // Delimited by the close of the target's connection: the client gets a length instead.
    if (rawContentLength(this.rawHeaders) === undefined) headers.push('Content-Length', String(this.body.size));
    try {
      res.writeHead(this.statusCode, this.statusText, headers);
    } catch {
      return false;
    }
    const data = this.body.data();
    if (data) {
      // As the streamed relay writes it: end(data) would cork, and defer 'finish' to the write's callback.
      res.write(data);
      res.end();
      return true;
    }
    // A failing read destroys the response: the client sees a cut answer, not a short one.
    pipeline(this.body.stream(), res, () => undefined);
    return true;
  }
}
