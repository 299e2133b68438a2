// Command line grammar: the command table, parseArgs wrappers and usage text.
// Usage is rendered to strings; main prints it.

import { parseArgs } from 'node:util';
import { UserError } from '../shared/errors.js';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  value?: string;
  description: string;
}

export interface CommandSpec {
  /** Words that select the command, e.g. ['server', 'add']. */
  path: string[];
  aliases?: string[][];
  summary: string;
  args?: string;
  positionals: { min: number; max: number };
  options: Record<string, OptionSpec>;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export type ParsedCommandLine =
  | { kind: 'command'; spec: CommandSpec; name: string; values: OptionValues; positionals: string[] }
  | { kind: 'help'; text: string; exitCode: 0 | 2 };

const globalOptions: Record<string, OptionSpec> = {
  config: { type: 'string', short: 'c', value: 'FILE', description: 'deploy.yml to use (default: deploy.yml or config/deploy.yml)' },
  destination: { type: 'string', short: 'd', value: 'DEST', description: 'destination: merge deploy.DEST.yml over deploy.yml' },
  key: { type: 'string', value: 'FILE', description: 'operator key file (default: $BERTH_KEY or ~/.config/berth/key.jwk)' },
  json: { type: 'boolean', description: 'machine-readable output (JSON / NDJSON)' },
  verbose: { type: 'boolean', description: 'show stack traces on errors' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

/** push and rollback: both deliver releases the same way (cli/commands/deliver.ts). */
const LOCK_WAIT_OPTION: OptionSpec = { type: 'string', value: 'SECONDS', description: 'when the service is locked on a server, retry until this many seconds passed' };

export const commandSpecs: CommandSpec[] = [
  {
    path: ['keys', 'new'],
    summary: 'create an operator key and print its public key line',
    positionals: { min: 0, max: 0 },
    options: {
      comment: { type: 'string', value: 'TEXT', description: 'comment on the public key line (default user@hostname)' },
      force: { type: 'boolean', description: 'overwrite an existing key file' },
    },
  },
  {
    path: ['keys', 'show'],
    summary: 'print the public key line of the operator key',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['server', 'add'],
    summary: 'pin a server: fetch and record its agent id and certificate',
    args: 'HOST[:PORT]',
    positionals: { min: 1, max: 1 },
    options: {
      replace: { type: 'boolean', description: 'replace a pin that differs' },
      fingerprint: { type: 'string', value: 'SHA256HEX', description: 'expected certificate fingerprint' },
    },
  },
  {
    path: ['server', 'list'],
    summary: 'list pinned servers',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['server', 'remove'],
    summary: 'forget a pinned server',
    args: 'HOST[:PORT]',
    positionals: { min: 1, max: 1 },
    options: {},
  },
  {
    path: ['push'],
    aliases: [['deploy']],
    summary: 'deploy the image to every server',
    positionals: { min: 0, max: 0 },
    options: {
      version: { type: 'string', value: 'VERSION', description: 'release name (default: git HEAD)' },
      'trust-new': { type: 'boolean', description: 'pin servers seen for the first time' },
      'lock-wait': LOCK_WAIT_OPTION,
    },
  },
  {
    path: ['rollback'],
    summary: 'go back to the previous release (or RELEASE) on every server',
    args: '[RELEASE]',
    positionals: { min: 0, max: 1 },
    options: {
      'lock-wait': LOCK_WAIT_OPTION,
    },
  },
  {
    path: ['releases'],
    summary: 'list the releases on every server (image, when, key, status)',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['status'],
    summary: 'show what runs on every server',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['details'],
    summary: 'show per server the release, containers, routes and lock',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['logs'],
    summary: 'show the container logs of every server (each line prefixed by its host)',
    positionals: { min: 0, max: 0 },
    options: {
      role: { type: 'string', short: 'r', value: 'ROLE', description: 'only this role (and its servers)' },
      follow: { type: 'boolean', short: 'f', description: 'keep streaming, across deploys, until interrupted' },
      lines: { type: 'string', short: 'n', value: 'N', description: 'last N lines per container (default 100, at most 10000)' },
      since: { type: 'string', value: 'WHEN', description: 'only lines since a duration ago (90, 10m, 2h, 1d) or an ISO time' },
      grep: { type: 'string', value: 'REGEX', description: 'only lines matching this regular expression (applied here, not on the servers)' },
    },
  },
  {
    path: ['exec'],
    summary: 'run a command in a new container of the current release (needs an admin key)',
    args: '[--] CMD...',
    positionals: { min: 1, max: 64 },
    options: {
      role: { type: 'string', short: 'r', value: 'ROLE', description: 'the role to run as (default: the primary role)' },
      reuse: { type: 'boolean', description: 'run in the running container instead of a new one' },
      interactive: { type: 'boolean', short: 'i', description: 'interactive, on one server (a TTY when this terminal is one)' },
      host: { type: 'string', value: 'HOST', description: 'only this server (default for -i: the first server of the role)' },
    },
  },
  {
    path: ['maintenance'],
    summary: 'answer every request with 503 and a message (the health check path still reaches the app)',
    positionals: { min: 0, max: 0 },
    options: {
      message: { type: 'string', short: 'm', value: 'TEXT', description: 'what visitors see (default: "This service is down for maintenance.")' },
    },
  },
  {
    path: ['live'],
    summary: 'end maintenance: serve the app again',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['lock', 'status'],
    summary: 'show whether the service is locked on every server',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['lock', 'acquire'],
    summary: 'lock the service on every server: deploys are refused until released',
    positionals: { min: 0, max: 0 },
    options: {
      message: { type: 'string', short: 'm', value: 'MSG', description: 'why (required; shown to whoever tries to deploy)' },
    },
  },
  {
    path: ['lock', 'release'],
    summary: 'release the lock on every server',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['audit'],
    summary: 'show what was done to the service on every server, and by which key',
    positionals: { min: 0, max: 0 },
    options: {
      lines: { type: 'string', short: 'n', value: 'N', description: 'show the newest N entries (default 50, at most 1000)' },
    },
  },
  {
    path: ['remove'],
    summary: 'remove the service (its containers and routes) from every server',
    positionals: { min: 0, max: 0 },
    options: {
      confirmed: { type: 'boolean', short: 'y', description: 'do not ask; required when not on a terminal' },
    },
  },
  {
    path: ['config'],
    summary: 'print the merged, validated deploy.yml (secrets by name only)',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['init'],
    summary: 'write a starter config/deploy.yml and .kamal/secrets',
    positionals: { min: 0, max: 0 },
    options: {},
  },
  {
    path: ['version'],
    summary: 'print the CLI version',
    positionals: { min: 0, max: 0 },
    options: {},
  },
];

function usageError(message: string, hint = 'run `deploy --help` for usage'): UserError {
  return new UserError(message, hint, 'usage');
}

function toParseArgsOptions(options: Record<string, OptionSpec>) {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(options)) {
    out[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  return out;
}

function matchCommand(words: string[]): { spec: CommandSpec; length: number } | undefined {
  for (const spec of commandSpecs) {
    for (const path of [spec.path, ...(spec.aliases ?? [])]) {
      if (path.every((word, i) => words[i] === word)) return { spec, length: path.length };
    }
  }
  return undefined;
}

/** First pass: only to find the command words, so option values are not mistaken for them. */
function leadingPositionals(argv: string[]): string[] {
  const all: Record<string, OptionSpec> = { ...globalOptions };
  for (const spec of commandSpecs) Object.assign(all, spec.options);
  const { positionals } = parseArgs({ args: argv, options: toParseArgsOptions(all), strict: false, allowPositionals: true });
  return positionals;
}

/** The words before `--`: after it they belong to a remote command (`deploy exec -- rails --help`). */
export function ownWords(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

export function parseCommandLine(argv: string[]): ParsedCommandLine {
  if (argv.length === 1 && argv[0] === '--version') argv = ['version'];
  const words = leadingPositionals(argv);
  const own = ownWords(argv);
  const wantsHelp = own.includes('--help') || own.includes('-h') || words[0] === 'help';
  const commandWords = words[0] === 'help' ? words.slice(1) : words;
  const match = matchCommand(commandWords);

  if (!match) {
    if (commandWords.length === 0) return { kind: 'help', text: renderOverview(), exitCode: wantsHelp ? 0 : 2 };
    const group = commandSpecs.filter((s) => s.path[0] === commandWords[0]);
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
    throw usageError(message, `run \`deploy ${match.spec.path.join(' ')} --help\` for usage`);
  }
  const positionals = parsed.positionals.slice(match.length);
  const { min, max } = match.spec.positionals;
  const name = match.spec.path.join(' ');
  if (positionals.length < min) {
    throw usageError(`\`deploy ${name}\` needs ${match.spec.args ?? 'an argument'}`, `usage: deploy ${name} ${match.spec.args ?? ''}`.trimEnd());
  }
  if (positionals.length > max) {
    throw usageError(`unexpected argument \`${positionals[max]}\` for \`deploy ${name}\``);
  }
  return { kind: 'command', spec: match.spec, name, values: parsed.values as OptionValues, positionals };
}

function renderOptions(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return `  ${flag.padEnd(30)} ${spec.description}`;
  });
}

export function renderUsage(spec: CommandSpec): string {
  const name = spec.path.join(' ');
  const lines = [`usage: deploy ${name}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.summary];
  if (spec.aliases?.length) lines.push(`alias: ${spec.aliases.map((a) => `deploy ${a.join(' ')}`).join(', ')}`);
  const own = renderOptions(spec.options);
  if (own.length) lines.push('', 'options:', ...own);
  lines.push('', 'global options:', ...renderOptions(globalOptions));
  return lines.join('\n') + '\n';
}

export function renderOverview(specs: CommandSpec[] = commandSpecs): string {
  const rows = specs.map((s) => {
    const left = `deploy ${s.path.join(' ')}${s.args ? ` ${s.args}` : ''}`;
    return `  ${left.padEnd(30)} ${s.summary}`;
  });
  return ['usage: deploy COMMAND [options]', '', 'commands:', ...rows, '', 'global options:', ...renderOptions(globalOptions)].join('\n') + '\n';
}
