// Polling until something a test observes is true: the one helper every test
// uses instead of fixed sleeps or hand-written loops.

export interface WaitOptions {
  /** Between checks (default 20 ms); slower for checks that cost a request to a server. */
  intervalMs?: number;
  /** Appended to the timeout error, e.g. the agent's log. */
  explain?: () => string;
}

/**
 * Polls `check` until it returns something other than false or undefined,
 * and returns that; fails after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | false | undefined | Promise<T | false | undefined>,
  timeoutMs = 10_000,
  options: WaitOptions = {},
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== undefined) return value as Exclude<T, false | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${options.explain ? `\n${options.explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}
