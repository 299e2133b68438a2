// The one loop over servers: a task per host with bounded concurrency, each
// host's outcome kept (one unreachable server is reported next to the others'
// answers), and the one error that ends a command when some hosts failed.
// Fleet commands (fleet.ts) and each rollout stage (rollout.ts) run on it.

import { BerthError, UpstreamError } from '../../shared/errors.js';

/** Servers a command talks to at once (fleet commands, and inside a rollout stage). */
export const MAX_PARALLEL_SERVERS = 8;

/**
 * What one host came to. A failure may carry `value`: what the task knew of
 * the host when it failed (a rollout's deploy id, final state and time).
 */
export type HostOutcome<T> =
  | { host: string; ok: true; value: T }
  | { host: string; ok: false; error: string; cause: unknown; value?: T };

export type HostFailure<T = unknown> = Extract<HostOutcome<T>, { ok: false }>;

/** Runs `task` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A thrown error as the failed outcome of `host`. */
export function failedOutcome<T>(host: string, err: unknown): HostFailure<T> {
  return { host, ok: false, error: err instanceof Error ? err.message : String(err), cause: err };
}

/** The outcome of `task` for `host`: its value, or its throw as the failure. */
export async function settle<T>(host: string, task: () => Promise<T>): Promise<HostOutcome<T>> {
  try {
    return { host, ok: true, value: await task() };
  } catch (err) {
    return failedOutcome(host, err);
  }
}

/**
 * Runs `task` for every host, at most `limit` at once, and reports each
 * outcome as it is known. Outcomes keep the order of `items`.
 */
export function onEachHost<I, T>(
  items: readonly I[],
  task: (item: I) => Promise<HostOutcome<T>>,
  options: { limit?: number; onOutcome?: (outcome: HostOutcome<T>) => void } = {},
): Promise<Array<HostOutcome<T>>> {
  return mapBounded(items, options.limit ?? MAX_PARALLEL_SERVERS, async (item) => {
    const outcome = await task(item);
    options.onOutcome?.(outcome);
    return outcome;
  });
}

/** A failed host's error, led by its name unless the error already names it (the client's do). */
export function hostError(o: { host: string; error: string }): string {
  return o.error.includes(o.host) ? o.error : `${o.host}: ${o.error}`;
}

/** How the closing error words what was being done. */
export type FailureWording =
  /** A fleet command: "could not read the status on …". */
  | { doing: string }
  /** A rollout: "deploy failed on …", naming the hosts skipped after a failed stage. */
  | { verb: string; skipped: string[]; redact?: (text: string) => string };

/**
 * The error to end a command with when some hosts failed, naming them and
 * why; one failed host keeps its own typed error (code and hint). Undefined
 * when all succeeded (and none was skipped).
 */
export function hostsFailure<T>(outcomes: ReadonlyArray<HostOutcome<T>>, wording: FailureWording): BerthError | undefined {
  if ('verb' in wording) return rolloutFailure(outcomes, wording);
  const failed = outcomes.filter((o): o is HostFailure<T> => !o.ok);
  if (failed.length === 0) return undefined;
  const [only] = failed;
  if (failed.length === 1 && only) {
    // The client's errors already name the server; the error itself is the clearest report.
    if (only.cause instanceof BerthError && only.error.includes(only.host)) return only.cause;
    const message = `${only.host}: ${only.error}`;
    if (only.cause instanceof BerthError) return new BerthError(only.cause.code, only.cause.status, message, only.cause.hint);
    return new UpstreamError(`could not ${wording.doing} on ${message}`);
  }
  const reasons = failed.map(hostError).join('; ');
  return new UpstreamError(`could not ${wording.doing} on ${failed.length} of ${outcomes.length} servers (${failed.map((f) => f.host).join(', ')}): ${reasons}`);
}

function rolloutFailure<T>(outcomes: ReadonlyArray<HostOutcome<T>>, wording: { verb: string; skipped: string[]; redact?: (text: string) => string }): BerthError | undefined {
  const skippedSet = new Set(wording.skipped);
  const failed = outcomes.filter((o): o is HostFailure<T> => !o.ok && !skippedSet.has(o.host));
  const skipped = wording.skipped;
  if (failed.length === 0 && skipped.length === 0) return undefined;
  const redact = wording.redact ?? ((t: string) => t);
  const reason = (f: HostFailure<T>) => (f.error.startsWith(f.host) ? f.error : `${f.host}: ${f.error}`);
  const skippedText = skipped.length ? `; ${skipped.length} server(s) skipped, left as they were: ${skipped.join(', ')}` : '';
  const [only] = failed;
  if (failed.length === 1 && only) {
    const message = redact(`${wording.verb} failed on ${reason(only)}${skippedText}`);
    if (only.cause instanceof BerthError) return new BerthError(only.cause.code, only.cause.status, message, only.cause.hint);
    return new BerthError('deploy_failed', 502, message, `the previous release keeps serving on ${only.host}`);
  }
  const reasons = redact(`${wording.verb} failed on ${failed.length} of ${outcomes.length} servers: ${failed.map(reason).join('; ')}${skippedText}`);
  return new BerthError('deploy_failed', 502, reasons, 'servers that failed keep serving their previous release');
}

/** `error` is present only for failed hosts: the shape of every fleet command's --json. */
export function outcomeJson<T, K extends string>(o: HostOutcome<T>, field: K): { host: string; error?: string } & Partial<Record<K, T | null>> {
  return o.ok ? ({ host: o.host, [field]: o.value } as { host: string } & Partial<Record<K, T>>) : ({ host: o.host, [field]: null, error: o.error } as { host: string; error: string } & Partial<Record<K, null>>);
}
