// What every command receives from main: environment, output and parsed options.

import { UserError } from '../../shared/errors.js';
import type { OptionValues } from '../args.js';
import type { CliEnv } from '../env.js';
import type { Printer } from '../output/printer.js';
import type { Style } from '../output/style.js';

export interface CommandContext {
  env: CliEnv;
  printer: Printer;
  style: Style;
  /** --json: machine output only on stdout. */
  json: boolean;
  /** stdout is a terminal and not --json: live progress may redraw. */
  live: boolean;
  values: OptionValues;
  positionals: string[];
}

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

export function positional(ctx: CommandContext, index: number, what: string): string {
  const value = ctx.positionals[index];
  if (value === undefined) throw new UserError(`missing ${what}`, undefined, 'usage');
  return value;
}

/** Servers a command talks to at once (fleet commands, and inside a rollout batch). */
export const MAX_PARALLEL_SERVERS = 8;

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
