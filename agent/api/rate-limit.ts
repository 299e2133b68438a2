// Counts failed authentications per remote address in fixed one-minute
// windows, so guessing or replay floods get 429 before any crypto.

export interface FailureLimiter {
  /** True when `key` has used up its failures in the current window. */
  blocked(key: string): boolean;
  fail(key: string): void;
}

export interface FailureLimiterOptions {
  max: number;
  windowMs: number;
  now?: () => number;
  /** Bounds memory under a flood of distinct keys; oldest windows go first. */
  maxEntries?: number;
}

export function createFailureLimiter(opts: FailureLimiterOptions): FailureLimiter {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 10_000;
  const windows = new Map<string, { start: number; count: number }>();

  const current = (key: string) => {
    const w = windows.get(key);
    if (w && now() - w.start < opts.windowMs) return w;
    if (w) windows.delete(key);
    return undefined;
  };

  return {
    blocked(key) {
      return (current(key)?.count ?? 0) >= opts.max;
    },
    fail(key) {
      const w = current(key);
      if (w) {
        w.count += 1;
        return;
      }
      while (windows.size >= maxEntries) {
        const oldest = windows.keys().next().value;
        if (oldest === undefined) break;
        windows.delete(oldest);
      }
      windows.set(key, { start: now(), count: 1 });
    },
  };
}
