// The connections to targets: one undici Pool per target (keep-alive, one
// request per connection at a time), the only module that speaks undici.
// Pools of targets that left the route table are closed once their last
// request is done, so old containers are not held open by idle sockets.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Client, Pool, type Dispatcher } from 'undici';
import { splitTarget } from '../../shared/routes.js';

// Well below the idle timeouts of common app servers (Node 5 s, gunicorn 2 s),
// so the router drops an idle socket before the target does; a POST sent on a
// socket the target just closed cannot be retried safely. A shorter
// `Keep-Alive: timeout=` from the target wins (less undici's 2 s margin).
const IDLE_SOCKET_TIMEOUT_MS = 1_000;
const MAX_CONNECTIONS_PER_TARGET = 512;

export interface UpstreamRequest {
  method: string;
  /** Origin-form path and query. */
  path: string;
  headers: OutgoingHttpHeaders;
  /** A Buffer once buffered whole (buffering.ts). */
  body: Readable | Buffer | null;
}

/**
 * undici's own handler interface (called directly, no wrapper per request),
 * plus the callback it makes once the request is fully written. The pool
 * sets `connection` before the request is written.
 */
export interface UpstreamHandler {
  connection?: TargetConnection;
  onConnect(abort: (err?: Error) => void): void;
  onRequestSent(): void;
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: unknown): void;
  onError(err: Error): void;
}

/** One connection (a Client with pipelining 1) that knows whether its socket carried a request before. */
class TargetConnection extends Client {
  #onSocket = 0;

  constructor(origin: string | URL, options: Client.Options) {
    super(origin, options);
    this.on('connect', () => (this.#onSocket = 0));
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    (handler as UpstreamHandler).connection = this;
    return super.dispatch(options, handler);
  }

  /** Called as a request is written: true when the socket carried one before (the target may have closed it meanwhile). */
  nextRequestReuses(): boolean {
    return this.#onSocket++ > 0;
  }
}

// Our own clock governs connecting and waiting (forward.ts); undici's would
// also fire on a target that reads an upload slowly.
const TIMEOUTS = { connectTimeout: 0, headersTimeout: 0, bodyTimeout: 0 } as const;

export class TargetPool {
  readonly #pools = new Map<string, Pool>();
  #routed = new Set<string>();

  /** Sends one request to `target` ("IP:PORT", "[IPv6]:PORT") on a pooled connection; false (nothing sent) when that is no target. */
  dispatch(target: string, request: UpstreamRequest, handler: UpstreamHandler): boolean {
    let pool = this.#pools.get(target);
    if (!pool) {
      // Checked once per pool, not per request.
      if (!splitTarget(target)) return false;
      pool = new Pool(`http://${target}`, {
        ...TIMEOUTS,
        connections: MAX_CONNECTIONS_PER_TARGET,
        pipelining: 1,
        keepAliveTimeout: IDLE_SOCKET_TIMEOUT_MS,
        keepAliveMaxTimeout: IDLE_SOCKET_TIMEOUT_MS,
        factory: (origin, options) => new TargetConnection(origin, options as Client.Options),
      });
      this.#pools.set(target, pool);
    }
    pool.dispatch(request as Dispatcher.DispatchOptions, handler as Dispatcher.DispatchHandler);
    return true;
  }

  /** Sends one request on a connection of its own, closed after the answer (a retry must not meet another stale socket). */
  dispatchFresh(target: string, request: UpstreamRequest, handler: UpstreamHandler): void {
    const connection = new TargetConnection(`http://${target}`, { ...TIMEOUTS, pipelining: 1 });
    connection.dispatch({ ...request, reset: true } as Dispatcher.DispatchOptions, handler as Dispatcher.DispatchHandler);
    // Closes once that one request is done.
    connection.close().catch(() => undefined);
  }

  /** Records the routed targets; closes pools of unrouted targets that are idle now. */
  setRouted(targets: Iterable<string>, isBusy: (target: string) => boolean): void {
    this.#routed = new Set(targets);
    for (const target of [...this.#pools.keys()]) {
      if (!isBusy(target)) this.releaseIfUnrouted(target);
    }
  }

  /** Called when a target's last in-flight request finished. */
  releaseIfUnrouted(target: string): void {
    if (this.#routed.has(target)) return;
    const pool = this.#pools.get(target);
    if (!pool) return;
    this.#pools.delete(target);
    pool.destroy().catch(() => undefined);
  }

  /** Targets with an open pool. */
  targets(): string[] {
    return [...this.#pools.keys()];
  }

  destroyAll(): void {
    for (const pool of this.#pools.values()) pool.destroy().catch(() => undefined);
    this.#pools.clear();
  }
}
