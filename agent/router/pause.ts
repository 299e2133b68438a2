// A paused route (Kamal's `proxy pause`): its new requests are held, not
// answered, until the route set changes. A held request then looks its route
// up again in the live table and goes wherever that says (the new target once
// resumed, still held while paused); after the pause's timeout, counted from
// when the request was first held, it gets 504. Held requests reach no target,
// so they are not in flight; each holds its client connection, which the
// connection caps (agent/connection-guard.ts) bound.

import type { Socket } from 'node:net';
import { isHealthPath } from './table.js';
import type { Route } from './types.js';

export class PauseGate {
  readonly #waiters = new Set<() => void>();
  readonly #idleTimeoutMs: number;

  /** `idleTimeoutMs`: the client socket's inactivity timeout, lifted while held and restored after. */
  constructor(idleTimeoutMs: number) {
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** Requests held right now. */
  get held(): number {
    return this.#waiters.size;
  }

  /** Called after every route set swap: each held request looks again. */
  routesChanged(): void {
    const waiting = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiting) wake();
  }

  /**
   * When `route` is paused and `path` is not its health path (health checks
   * still reach the app), holds the request and returns true. `again(deadline)`
   * re-dispatches it after a route change, `expired(seconds)` answers the
   * timeout; a client that goes away ends the hold silently.
   */
  holdIfPaused(
    route: Route,
    path: string,
    socket: Socket,
    deadline: number | undefined,
    again: (deadline: number) => void,
    expired: (seconds: number) => void,
  ): boolean {
    if (!route.pause || isHealthPath(route, path)) return false;
    const timeoutS = route.pause.timeout;
    const until = deadline ?? Date.now() + timeoutS * 1000;
    let done = false;
    const finish = (then?: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#waiters.delete(wake);
      socket.off('close', gone);
      if (!socket.destroyed) socket.setTimeout(this.#idleTimeoutMs);
      then?.();
    };
    const wake = (): void => finish(() => again(until));
    const gone = (): void => finish();
    const timer = setTimeout(() => finish(() => expired(timeoutS)), Math.max(0, until - Date.now()));
    // The pause's own timeout bounds the wait, not the idle timeout.
    socket.setTimeout(0);
    this.#waiters.add(wake);
    socket.once('close', gone);
    return true;
  }
}

export function pausedTooLong(seconds: number): string {
  return `The service is paused and did not resume within ${seconds} s.`;
}
