// Requests of a route with several targets (balancer.ts). Each try at a target
// goes through its own Attempt, so a try given up (no connection in time) is
// cut off from the request: whatever undici later reports on it is dropped,
// and a connection it gets at last is aborted before anything is written.

import type { UpstreamHandler } from './target-pool.js';

/** Where a request goes when its target cannot be reached (proxy.ts wires it to the balancer). */
export interface Failover {
  /** Takes `target` out of rotation. */
  failed(target: string): void;
  /** Another target in rotation, the in-flight count moved to it; undefined when there is none. */
  retarget(from: string): string | undefined;
}

// Errors of a connection that never opened: nothing of the request was sent.
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
/** The code a try gets when it has no connection by CONNECT_DEADLINE_MS. */
export const CONNECT_TOO_SLOW = 'BERTH_CONNECT_TIMEOUT';
/**
 * A try with no connection this long is given up for another target: the
 * address of a stopped container may not answer a SYN at all, and the
 * response timeout (30 s by default) is far too long to wait when another
 * target could answer. Connects on loopback and Docker bridges take well
 * under a millisecond.
 */
export const CONNECT_DEADLINE_MS = 2_000;

/**
 * Whether a request that failed before any answer may be sent to another
 * target (once): anything whose connection never opened, if its body can be
 * sent again (none, or held whole in memory); a bodiless GET or HEAD whatever
 * the failure.
 */
export function mayResend(method: string, body: unknown, code: string | undefined): boolean {
  if (body === null && (method === 'GET' || method === 'HEAD')) return true;
  const replayable = body === null || Buffer.isBuffer(body);
  return replayable && (code === CONNECT_TOO_SLOW || CONNECT_ERRORS.has(code ?? ''));
}

/** One try at one target: passes undici's calls on to the request while it is the live try. */
export class Attempt implements UpstreamHandler {
  connection: UpstreamHandler['connection'];
  live = true;

  constructor(private readonly handler: UpstreamHandler) {}

  onConnect(abort: (err?: Error) => void): void {
    if (!this.live) return abort();
    this.handler.connection = this.connection;
    this.handler.onConnect(abort);
  }

  onRequestSent(): void {
    if (this.live) this.handler.onRequestSent();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.live ? this.handler.onHeaders(statusCode, rawHeaders, resume, statusText) : true;
  }

  onData(chunk: Buffer): boolean {
    return this.live ? this.handler.onData(chunk) : true;
  }

  onComplete(trailers: unknown): void {
    if (this.live) this.handler.onComplete(trailers);
  }

  onError(err: Error): void {
    if (this.live) this.handler.onError(err);
  }
}
