// In-flight request counts per target, read by the agent (GET /targets) to know
// when an old container has drained, and by shutdown to wait for the last response.

import { EventEmitter } from 'node:events';

export class InflightCounter {
  readonly #counts = new Map<string, number>();
  readonly #events = new EventEmitter();
  #total = 0;

  /** Counts one request to `target`; the returned release is safe to call more than once. */
  start(target: string): () => void {
    this.#counts.set(target, (this.#counts.get(target) ?? 0) + 1);
    this.#total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(target) ?? 1) - 1;
      if (left > 0) this.#counts.set(target, left);
      else this.#counts.delete(target);
      this.#total -= 1;
      if (left === 0) this.#events.emit('target-idle', target);
      if (this.#total === 0) this.#events.emit('idle');
    };
  }

  count(target: string): number {
    return this.#counts.get(target) ?? 0;
  }

  get total(): number {
    return this.#total;
  }

  /** Counts for every routed target (0 when quiet) and every target still busy. */
  report(routed: Iterable<string>): Record<string, { inflight: number }> {
    const out: Record<string, { inflight: number }> = {};
    for (const t of routed) out[t] = { inflight: 0 };
    for (const [t, n] of this.#counts) out[t] = { inflight: n };
    return out;
  }

  onTargetIdle(listener: (target: string) => void): void {
    this.#events.on('target-idle', listener);
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.#total === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onIdle = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#events.off('idle', onIdle);
        resolve(false);
      }, timeoutMs);
      this.#events.once('idle', onIdle);
    });
  }
}
