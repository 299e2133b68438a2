// A command of the `deploy` CLI, citty-style: one object holding its spec
// (words, summary, options, positionals), from which the parser and the help
// are made, and its run function, which receives the options typed from that
// spec. Definitions live in cli/commands/, one per file; they import what they
// run lazily, so loading every spec (for help and dispatch) stays cheap.

import type { LoadedConfig } from './config/load.js';
import type { CliEnv } from './env.js';
import type { Printer } from './output/printer.js';
import type { Style } from './output/style.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's name in the help (`--lines N`). */
  value?: string;
  /** A string option's value when it is not given. */
  default?: string;
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** A boolean is false when absent; a string is undefined when absent unless it has a default. */
type OptionValue<S extends OptionSpec> = S extends { type: 'boolean' } ? boolean : S extends { default: string } ? string : string | undefined;

export type OptionsOf<S extends OptionSpecs> = { -readonly [K in keyof S]: OptionValue<S[K]> };

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c', value: 'FILE', description: 'deploy.yml to use (default: deploy.yml or config/deploy.yml)' },
  destination: { type: 'string', short: 'd', value: 'DEST', description: 'destination: merge deploy.DEST.yml over deploy.yml' },
  key: { type: 'string', value: 'FILE', description: 'operator key file (default: $BERTH_KEY or ~/.config/berth/key.jwk)' },
  json: { type: 'boolean', description: 'machine-readable output (JSON / NDJSON)' },
  verbose: { type: 'boolean', description: 'show stack traces on errors' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
} as const satisfies OptionSpecs;

export type GlobalOptions = OptionsOf<typeof GLOBAL_OPTIONS>;

/** What every command's work receives from main: environment, output, and the global options. */
export interface RunContext {
  env: CliEnv;
  printer: Printer;
  style: Style;
  /** --json: machine output only on stdout. */
  json: boolean;
  /** stdout is a terminal and not --json: live progress may redraw. */
  live: boolean;
  globals: GlobalOptions;
  /** deploy.yml loads of this command line (cli/app-config.ts loadConfigOnce). */
  configs?: ConfigCache;
}

/** Configs loaded during one command line, by file and destination: ERB runs once. */
export type ConfigCache = Map<string, Promise<LoadedConfig>>;

export interface CommandContext<S extends OptionSpecs = OptionSpecs> extends RunContext {
  options: OptionsOf<S>;
  positionals: string[];
}

export interface CommandSpec<S extends OptionSpecs = OptionSpecs> {
  /** Words that select the command, e.g. ['server', 'add']. */
  path: readonly string[];
  aliases?: ReadonlyArray<readonly string[]>;
  summary: string;
  /** The positionals in the usage line, e.g. `HOST[:PORT]`. */
  args?: string;
  positionals: { min: number; max: number };
  options: S;
}

export interface CommandDefinition<S extends OptionSpecs = OptionSpecs> extends CommandSpec<S> {
  /** May answer an exit code (exec passes on the remote command's). */
  run(ctx: CommandContext<S>): Promise<void | number>;
}

/** Ties `run`'s options to the spec: `options.host` is `string | undefined` because the spec says `type: 'string'`. */
export function defineCommand<const S extends OptionSpecs>(definition: CommandDefinition<S>): CommandDefinition<S> {
  return definition;
}

/** The name a command is known by: its words joined (`server add`). */
export function commandName(spec: CommandSpec): string {
  return spec.path.join(' ');
}

/** The options of `commands` and the global ones that take a value, as typed (`--lines`, `-n`). */
export function valueOptionNames(commands: readonly Pick<CommandSpec, 'options'>[]): ReadonlySet<string> {
  const names = new Set<string>();
  for (const options of [GLOBAL_OPTIONS as OptionSpecs, ...commands.map((c) => (c.options ?? {}) as OptionSpecs)]) {
    for (const [name, spec] of Object.entries(options)) {
      if (spec.type !== 'string') continue;
      names.add(`--${name}`);
      if (spec.short) names.add(`-${spec.short}`);
    }
  }
  return names;
}
