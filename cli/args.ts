// Command line grammar over the command definitions (cli/command.ts): the
// only user of node:util parseArgs, and the usage text made from the specs.
// Usage is rendered to strings; main prints it.

import { parseArgs } from 'node:util';
import { UserError } from '../shared/errors.js';
import { GLOBAL_OPTIONS, commandName, type CommandDefinition, type CommandSpec, type GlobalOptions, type OptionSpecs } from './command.js';

const globalOptions: OptionSpecs = GLOBAL_OPTIONS;

export type OptionValues = Record<string, string | boolean | undefined>;

export type ParsedCommandLine =
  | {
      kind: 'command';
      command: CommandDefinition;
      name: string;
      /** What parseArgs found, as given. */
      values: OptionValues;
      /** Every option of the command's spec: booleans false when absent, strings their default or undefined. */
      options: OptionValues;
      globals: GlobalOptions;
      positionals: string[];
    }
  | { kind: 'help'; text: string; exitCode: 0 | 2 };

function usageError(message: string, hint = 'run `deploy --help` for usage'): UserError {
  return new UserError(message, hint, 'usage');
}

function toParseArgsOptions(options: OptionSpecs) {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }> = {};
  for (const [name, spec] of Object.entries(options)) {
    out[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.default !== undefined ? { default: spec.default } : {}) };
  }
  return out;
}

function matchCommand(commands: readonly CommandDefinition[], words: string[]): { spec: CommandDefinition; length: number } | undefined {
  for (const spec of commands) {
    for (const path of [spec.path, ...(spec.aliases ?? [])]) {
      if (path.every((word, i) => words[i] === word)) return { spec, length: path.length };
    }
  }
  return undefined;
}

/** First pass: only to find the command words, so option values are not mistaken for them. */
function leadingPositionals(commands: readonly CommandSpec[], argv: string[]): string[] {
  const all: OptionSpecs = { ...globalOptions };
  for (const spec of commands) Object.assign(all, spec.options);
  const { positionals } = parseArgs({ args: argv, options: toParseArgsOptions(all), strict: false, allowPositionals: true });
  return positionals;
}

/** The words before `--`: after it they belong to a remote command (`deploy exec -- rails --help`). */
export function ownWords(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

export function parseCommandLine(argv: string[], commands: readonly CommandDefinition[]): ParsedCommandLine {
  if (argv.length === 1 && argv[0] === '--version') argv = ['version'];
  const words = leadingPositionals(commands, argv);
  const own = ownWords(argv);
  const wantsHelp = own.includes('--help') || own.includes('-h') || words[0] === 'help';
  const commandWords = words[0] === 'help' ? words.slice(1) : words;
  const match = matchCommand(commands, commandWords);

  if (!match) {
    if (commandWords.length === 0) return { kind: 'help', text: renderOverview(commands), exitCode: wantsHelp ? 0 : 2 };
    const group = commands.filter((s) => s.path[0] === commandWords[0]);
    if (group.length > 0 && commandWords.length === 1) {
      return { kind: 'help', text: renderOverview(group), exitCode: wantsHelp ? 0 : 2 };
    }
    throw usageError(`unknown command \`${commandWords.join(' ')}\``);
  }
  if (wantsHelp) return { kind: 'help', text: renderUsage(match.spec), exitCode: 0 };

  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: toParseArgsOptions({ ...globalOptions, ...match.spec.options }),
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // parseArgs messages are already user-facing ("Unknown option '--x'").
    const first = err instanceof Error ? err.message.split('\n')[0] ?? '' : '';
    const message = first.replace(/\. To specify a positional argument.*$/, '') || 'bad arguments';
    throw usageError(message, `run \`deploy ${commandName(match.spec)} --help\` for usage`);
  }
  const positionals = parsed.positionals.slice(match.length);
  const { min, max } = match.spec.positionals;
  const name = commandName(match.spec);
  if (positionals.length < min) {
    throw usageError(`\`deploy ${name}\` needs ${match.spec.args ?? 'an argument'}`, `usage: deploy ${name} ${match.spec.args ?? ''}`.trimEnd());
  }
  if (positionals.length > max) {
    throw usageError(`unexpected argument \`${positionals[max]}\` for \`deploy ${name}\``);
  }
  const values = parsed.values as OptionValues;
  return {
    kind: 'command', command: match.spec, name, values, positionals,
    options: optionsOf(match.spec.options, values),
    globals: optionsOf(globalOptions, values) as GlobalOptions,
  };
}

/** parseArgs checked each value against its spec's type; what remains is filling in the absent ones. */
function optionsOf(specs: OptionSpecs, values: OptionValues): OptionValues {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, spec.type === 'boolean' ? values[name] === true : values[name]]));
}

function renderOptions(options: OptionSpecs): string[] {
  return Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return `  ${flag.padEnd(30)} ${spec.description}`;
  });
}

export function renderUsage(spec: CommandSpec): string {
  const name = commandName(spec);
  const lines = [`usage: deploy ${name}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.summary];
  if (spec.aliases?.length) lines.push(`alias: ${spec.aliases.map((a) => `deploy ${a.join(' ')}`).join(', ')}`);
  const own = renderOptions(spec.options);
  if (own.length) lines.push('', 'options:', ...own);
  lines.push('', 'global options:', ...renderOptions(globalOptions));
  return lines.join('\n') + '\n';
}

export function renderOverview(specs: readonly CommandSpec[]): string {
  const rows = specs.map((s) => {
    const left = `deploy ${s.path.join(' ')}${s.args ? ` ${s.args}` : ''}`;
    return `  ${left.padEnd(30)} ${s.summary}`;
  });
  const kamal = [
    "Kamal's command forms run too (deploy deploy --skip-push --version SHA, deploy app exec|logs|details,",
    'deploy lock acquire -m MSG, …), and so do the aliases: of deploy.yml (deploy console).',
  ];
  return ['usage: deploy COMMAND [options]', '', 'commands:', ...rows, '', ...kamal, '', 'global options:', ...renderOptions(globalOptions)].join('\n') + '\n';
}
