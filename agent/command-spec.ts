// One definition per `berth-agent` command: name, summary and options. The
// parser and every usage text are derived from it, so a command's help cannot
// drift from what it accepts, nor the general usage from the commands.
import { parseArgs } from 'node:util';
import { UserError } from '../shared/errors.js';

export interface OptionSpec {
  /** The value's placeholder (DIR, N); absent for a switch. */
  value?: string;
  /** May be given again; its environment variable then takes a comma-separated list. */
  multiple?: boolean;
  env?: string;
  default?: string;
  description: string;
  /** Said after the environment variable and the default. */
  note?: string;
  /** Accepted but not shown (status takes run's options so it can share run's command line). */
  hidden?: boolean;
}

export interface CommandSpec {
  /** The words after `berth-agent`: 'run', 'trust add'. */
  name: string;
  /** Positionals as the usage shows them: 'LINE', KID. */
  args?: string;
  summary: string;
  options: Readonly<Record<string, OptionSpec>>;
  /** Lines after the options. */
  notes?: readonly string[];
}

export const BIN = 'berth-agent';

export const STATE_DIR_OPTION: OptionSpec = {
  value: 'DIR',
  env: 'BERTH_STATE_DIR',
  default: '/var/lib/berth',
  description: 'state directory',
};

const WIDTH = 100;
const COLUMN = 28;

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

export function toParseArgsOptions(options: CommandSpec['options']): ParseArgsOptions {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [name, { type: o.value === undefined ? 'boolean' : 'string', ...(o.multiple ? { multiple: true } : {}) }]),
  );
}

/** `--help` or `-h` before `--` asks for the usage, whatever else is on the line. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  return own.includes('--help') || own.includes('-h');
}

export function usageError(spec: Pick<CommandSpec, 'name'>, message: string): UserError {
  return new UserError(`${BIN} ${spec.name}: ${message}`, `see ${BIN} ${spec.name} --help`, 'usage');
}

/** Parses a command's own arguments by its spec; unknown options are usage errors naming `--help`. */
export function parseCommand(spec: CommandSpec, args: string[]): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: toParseArgsOptions(spec.options), strict: true, allowPositionals: true });
    return { values: r.values as Record<string, unknown>, positionals: r.positionals };
  } catch (e) {
    // parseArgs messages are user-facing ("Unknown option '--x'"); its advice on positionals is noise here.
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    throw usageError(spec, first.replace(/\. To specify a positional argument.*$/, '') || 'bad arguments');
  }
}

export function renderUsage(spec: CommandSpec): string {
  const shown = Object.entries(spec.options).filter(([, o]) => !o.hidden);
  const line = [`usage: ${BIN} ${spec.name}`, spec.args, shown.length > 0 ? '[options]' : undefined].filter(Boolean).join(' ');
  const lines = [line, '', spec.summary];
  if (shown.length > 0) lines.push('', 'options:', ...shown.flatMap(([name, o]) => renderOption(name, o)));
  if (spec.notes?.length) lines.push('', ...spec.notes);
  return `${lines.join('\n')}\n`;
}

/** The list of commands with their summaries, and the options every one of them takes. */
export function renderOverview(specs: readonly CommandSpec[], common: CommandSpec['options'], head = `${BIN} COMMAND`): string {
  const rows = specs.map((s) => {
    const left = `  ${s.name}${s.args ? ` ${s.args}` : ''}`;
    return `${left.padEnd(COLUMN - 1)} ${s.summary}`;
  });
  const lines = [`usage: ${head} [options]`, '', 'commands:', ...rows];
  const commonRows = Object.entries(common).flatMap(([name, o]) => renderOption(name, o));
  if (commonRows.length > 0) lines.push('', 'options of every command:', ...commonRows);
  lines.push('', `${head} --help shows a command's own options.`);
  return `${lines.join('\n')}\n`;
}

export function describeOption(o: OptionSpec): string {
  const source = o.multiple
    ? [o.env && `${o.env}=A,B`, o.default !== undefined && `default ${o.default}`].filter(Boolean).join('; ')
    : [o.env, o.default !== undefined && `default ${o.default}`].filter(Boolean).join(', ');
  const parts = [o.multiple && 'repeat', source, o.note].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.length > 0 ? `${o.description} (${parts.join('; ')})` : o.description;
}

function renderOption(name: string, o: OptionSpec): string[] {
  const left = `  --${name}${o.value ? ` ${o.value}` : ''}`;
  const start = Math.max(COLUMN, left.length + 3);
  const [first = '', ...rest] = wrap(describeOption(o), WIDTH - start, WIDTH - COLUMN);
  return [left.padEnd(start) + first, ...rest.map((l) => ' '.repeat(COLUMN) + l)];
}

function wrap(text: string, firstWidth: number, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const limit = lines.length === 0 ? firstWidth : width;
    if (line !== '' && line.length + 1 + word.length > limit) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
