// Waiting for the router to finish the requests an old target still serves.
import type { RouterPort } from './types.js';

export interface DrainResult {
  drained: boolean;
  inflight: number;
  /** Set when the router could not be asked; the drain then just waits out its time. */
  lastError?: string;
}

const POLL_MS = 100;

export async function waitDrained(
  router: Pick<RouterPort, 'targets'>,
  target: string,
  timeoutSeconds: number,
  sleep: (ms: number) => Promise<void> = delay,
): Promise<DrainResult> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let inflight = 0;
  let lastError: string | undefined;
  for (;;) {
    try {
      const table = await router.targets();
      inflight = Object.hasOwn(table, target) ? (table[target]?.inflight ?? 0) : 0;
      lastError = undefined;
      if (inflight <= 0) return { drained: true, inflight: 0 };
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() >= deadline) return { drained: false, inflight, ...(lastError ? { lastError } : {}) };
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
