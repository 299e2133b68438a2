// The deadline a request's body must arrive within. Node's own requestTimeout
// is one number for the whole server; the restore upload (a backup's
// plaintext, possibly gigabytes over a slow link) cannot meet it. So the API
// server keeps the same rule itself: each request must have arrived whole
// within REQUEST_TIMEOUT_MS of its head, or its connection is dropped, except
// a request whose route, after its token verified, lengthens it: then only
// `idleMs` without a byte drops it.
import type { IncomingMessage, Server } from 'node:http';

/** A request (head and body) must have arrived whole within this; responses (SSE) may last. */
export const REQUEST_TIMEOUT_MS = 30_000;

const deadlines = new WeakMap<IncomingMessage, NodeJS.Timeout>();

/** Starts each request's body deadline on `server` (instead of Node's requestTimeout, which must then be 0). */
export function enforceBodyDeadline(server: Pick<Server, 'prependListener'>, ms: number = REQUEST_TIMEOUT_MS): void {
  // First of the request listeners: the deadline exists before any route can lengthen it.
  server.prependListener('request', (req: IncomingMessage) => {
    const timer = setTimeout(() => {
      if (!req.complete) req.socket.destroy();
    }, ms);
    timer.unref();
    deadlines.set(req, timer);
    req.once('end', () => clearTimeout(timer));
  });
}

/**
 * For an authenticated upload: the fixed deadline goes, and the connection is
 * dropped only after `idleMs` without a byte from the client until the body ended.
 */
export function lengthenBodyDeadline(req: IncomingMessage | undefined, idleMs: number): void {
  if (!req) return;
  clearTimeout(deadlines.get(req));
  deadlines.delete(req);
  if (req.complete) return;
  const socket = req.socket;
  let timer = setTimeout(() => socket.destroy(), idleMs);
  timer.unref();
  const onData = () => {
    clearTimeout(timer);
    timer = setTimeout(() => socket.destroy(), idleMs);
    timer.unref();
  };
  socket.on('data', onData);
  const done = () => {
    clearTimeout(timer);
    socket.off('data', onData);
  };
  req.once('end', done);
  req.once('close', done);
}
