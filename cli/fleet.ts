// The "every server of this app" loop shared by the commands that ask each
// agent something: load deploy.yml and the key, connect to every server pinned,
// run one task per server with bounded concurrency, and keep each server's
// outcome, so one unreachable server is reported next to the others' answers.

import { BerthError, UpstreamError } from '../shared/errors.js';
import { formatServerAddress, type ServerAddress } from './address.js';
import type { AgentClient } from './client.js';
import { loadAppConfig } from './commands/config.js';
import { MAX_PARALLEL_SERVERS, stringOption, mapBounded, type CommandContext } from './commands/context.js';
import type { DeployConfig } from './config/schema.js';
import { readKeyFile, resolveKeyPath, type OperatorKeyFile } from './keys.js';
import { connectPinned } from './pinning.js';

export interface Fleet {
  config: DeployConfig;
  appDir: string;
  key: OperatorKeyFile;
}

export type HostOutcome<T> =
  | { host: string; ok: true; value: T }
  | { host: string; ok: false; error: string; cause: unknown };

/** deploy.yml (-c, -d) and the operator key, as every fleet command needs them. */
export async function loadFleet(ctx: CommandContext): Promise<Fleet> {
  const { config, appDir } = await loadAppConfig(ctx);
  const key = await readKeyFile(resolveKeyPath(ctx.env, stringOption(ctx, 'key')));
  return { config, appDir, key };
}

export interface EveryServerOptions<T> {
  /** Default: every server of the config. */
  servers?: readonly ServerAddress[];
  /** Servers asked at once (default MAX_PARALLEL_SERVERS). */
  limit?: number;
  timeoutMs?: number;
  /** Called as each server's outcome is known, for output that shows progress. */
  onOutcome?: (outcome: HostOutcome<T>) => void;
}

/** Runs `task` against every server (pinned, never trusting new ones); outcomes keep the config's order. */
export async function onEveryServer<T>(
  fleet: Fleet,
  task: (client: AgentClient, host: string) => Promise<T>,
  options: EveryServerOptions<T> = {},
): Promise<Array<HostOutcome<T>>> {
  const servers = options.servers ?? fleet.config.servers;
  return mapBounded(servers, options.limit ?? MAX_PARALLEL_SERVERS, async (address): Promise<HostOutcome<T>> => {
    const host = formatServerAddress(address);
    let outcome: HostOutcome<T>;
    try {
      const { client } = await connectPinned({
        appDir: fleet.appDir, address, key: fleet.key, trustNew: false,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
      outcome = { host, ok: true, value: await task(client, host) };
    } catch (err) {
      outcome = { host, ok: false, error: err instanceof Error ? err.message : String(err), cause: err };
    }
    options.onOutcome?.(outcome);
    return outcome;
  });
}

/** A failed server's error, led by its name unless the error already names it (the client's do). */
export function hostError(o: { host: string; error: string }): string {
  return o.error.includes(o.host) ? o.error : `${o.host}: ${o.error}`;
}

/**
 * The error to end a command with when some servers failed, naming them and
 * why; one failed server keeps its own typed error (code and hint). Undefined
 * when all succeeded.
 */
export function fleetFailure<T>(outcomes: Array<HostOutcome<T>>, doing: string): BerthError | undefined {
  const failed = outcomes.filter((o): o is Extract<HostOutcome<T>, { ok: false }> => !o.ok);
  if (failed.length === 0) return undefined;
  const [only] = failed;
  if (failed.length === 1 && only) {
    // The client's errors already name the server; the error itself is the clearest report.
    if (only.cause instanceof BerthError && only.error.includes(only.host)) return only.cause;
    const message = `${only.host}: ${only.error}`;
    if (only.cause instanceof BerthError) return new BerthError(only.cause.code, only.cause.status, message, only.cause.hint);
    return new UpstreamError(`could not ${doing} on ${message}`);
  }
  const reasons = failed.map(hostError).join('; ');
  return new UpstreamError(`could not ${doing} on ${failed.length} of ${outcomes.length} servers (${failed.map((f) => f.host).join(', ')}): ${reasons}`);
}

/** `error` is present only for failed hosts: the shape of every fleet command's --json. */
export function outcomeJson<T, K extends string>(o: HostOutcome<T>, field: K): { host: string; error?: string } & Partial<Record<K, T | null>> {
  return o.ok ? ({ host: o.host, [field]: o.value } as { host: string } & Partial<Record<K, T>>) : ({ host: o.host, [field]: null, error: o.error } as { host: string; error: string } & Partial<Record<K, null>>);
}
