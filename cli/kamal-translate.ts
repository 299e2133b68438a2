// PURE: a command line in Kamal's vocabulary (cli/kamal-commands.ts) rewritten
// as the Berth command line that does the same, with the notes to print. A
// line that is not a Kamal form comes back undefined and is parsed as it is;
// options Kamal does not know pass through untouched, so Berth's own options
// (--json, --trust-new, --key) work on the Kamal forms too.

import { UserError } from '../shared/errors.js';
import { valueOptionNames } from './command.js';
import { splitShellWords } from './config/shell-words.js';
import {
  KAMAL_COMMAND_OPTIONS, KAMAL_COMMANDS, KAMAL_GLOBAL_OPTIONS, KAMAL_GROUPS, KAMAL_GROUPS_REFUSED,
  type KamalCommand, type KamalOption, type OptionRule,
} from './kamal-commands.js';

export interface Translation {
  argv: string[];
  notes: string[];
  /** The Kamal form as typed, for messages (`app exec`). */
  form: string;
}

const KAMAL_LOCK_WAIT_TIMEOUT = '900';
// Berth's global options that take a value; callers that know the commands pass all of theirs (valueOptionNames).
const GLOBAL_VALUE_OPTIONS = valueOptionNames([]);

const ALL_OPTIONS: KamalOption[] = [...KAMAL_GLOBAL_OPTIONS, ...Object.values(KAMAL_COMMAND_OPTIONS)];

function usage(message: string, hint?: string): UserError {
  return new UserError(message, hint ?? 'run `deploy --help` for usage', 'usage');
}

function findOption(token: string): KamalOption | undefined {
  if (token.startsWith('--')) {
    const long = token.slice(2).replaceAll('_', '-');
    return ALL_OPTIONS.find((o) => o.long === long);
  }
  return ALL_OPTIONS.find((o) => o.short !== undefined && token === `-${o.short}`);
}

/** Whether the option at `i` consumes the next token as its value. */
function takesValue(argv: readonly string[], i: number, option: KamalOption | undefined, berthValues: ReadonlySet<string>): boolean {
  const token = argv[i] as string;
  const next = argv[i + 1];
  if (token.includes('=') || next === undefined) return false;
  // Berth's --lock-wait takes seconds; Kamal's is a switch.
  if (token === '--lock-wait') return /^\d+$/.test(next);
  // -h alone is help; -h HOSTS is Kamal's host filter.
  if (token === '-h') return !next.startsWith('-');
  if (option) return option.value;
  return berthValues.has(token);
}

/** Where the positional words of a command line are, skipping options and their values. */
export function positionalIndexes(argv: readonly string[], berthValues: ReadonlySet<string> = GLOBAL_VALUE_OPTIONS): number[] {
  const at: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') return [...at, ...argv.slice(i + 1).map((_, j) => i + 1 + j)];
    if (token.startsWith('-') && token !== '-') {
      if (takesValue(argv, i, findOption(token.split('=')[0] as string), berthValues)) i++;
    } else at.push(i);
  }
  return at;
}

export function positionalWords(argv: readonly string[], berthValues: ReadonlySet<string> = GLOBAL_VALUE_OPTIONS): string[] {
  return positionalIndexes(argv, berthValues).map((i) => argv[i] as string);
}

/** The values of -c/--config/--config-file and -d/--destination, as Berth and Kamal spell them. */
export function configSelection(argv: readonly string[]): { config: string | undefined; destination: string | undefined } {
  const found: { config: string | undefined; destination: string | undefined } = { config: undefined, destination: undefined };
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const token = argv[i] as string;
    const [name, inline] = token.includes('=') ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)] : [token, undefined];
    const key = ['-c', '--config', '--config-file', '--config_file'].includes(name as string) ? 'config' : ['-d', '--destination'].includes(name as string) ? 'destination' : undefined;
    if (key) found[key] = inline ?? argv[++i];
  }
  return found;
}

/** The Kamal entry a command line's first words name, if they are a Kamal form. */
function lookup(words: readonly string[]): { path: string; length: number; entry: KamalCommand } | undefined {
  const [first, second] = words;
  if (first === undefined) return undefined;
  const refusedGroup = KAMAL_GROUPS_REFUSED[first];
  if (refusedGroup !== undefined) throw usage(`\`deploy ${[first, second].filter(Boolean).join(' ')}\` is a Kamal command with no meaning in Berth`, refusedGroup);
  const length = KAMAL_GROUPS.has(first) ? 2 : 1;
  const path = words.slice(0, length).join(' ');
  const entry = KAMAL_COMMANDS[path];
  if (entry === undefined) {
    if (first === 'app') {
      const known = Object.keys(KAMAL_COMMANDS).filter((k) => k.startsWith('app ')).map((k) => k.slice(4));
      throw usage(`unknown Kamal command \`app${second ? ` ${second}` : ''}\``, `Berth runs app ${known.join('|')}`);
    }
    return undefined;
  }
  if ('refuse' in entry) throw usage(`\`deploy ${path}\` is a Kamal command with no meaning in Berth`, entry.refuse);
  return { path, length, entry };
}

function ruleFor(entry: KamalCommand, option: KamalOption): OptionRule | undefined {
  return entry.options?.[option.long] ?? KAMAL_GLOBAL_OPTIONS.find((g) => g.long === option.long)?.rule;
}

/** The Berth command line for a Kamal form, or undefined when `argv` is not one. */
export function translateKamal(argv: readonly string[], berthValues: ReadonlySet<string> = GLOBAL_VALUE_OPTIONS): Translation | undefined {
  const found = lookup(positionalWords(argv, berthValues));
  if (!found) return undefined;
  const { entry, path } = found;
  // Help is the help of the Berth command it runs.
  const own = argv.indexOf('--') === -1 ? argv : argv.slice(0, argv.indexOf('--'));
  if (own.includes('--help') || own.some((t, i) => t === '-h' && !takesValue(own, i, undefined, berthValues))) return { argv: [...entry.berth, '--help'], notes: [], form: path };
  const notes: string[] = entry.note ? [entry.note] : [];
  const options: string[] = [];
  const positionals: string[] = [];
  let verbatim: string[] | undefined;
  let commandWordsLeft = found.length;
  const timeoutAt = argv.findIndex((t) => t === '--lock-wait-timeout' || t.startsWith('--lock-wait-timeout='));
  const timeout = timeoutAt === -1 ? KAMAL_LOCK_WAIT_TIMEOUT : (argv[timeoutAt]?.split('=')[1] ?? argv[timeoutAt + 1] ?? KAMAL_LOCK_WAIT_TIMEOUT);

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      verbatim = argv.slice(i + 1);
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      if (commandWordsLeft > 0) commandWordsLeft--;
      else positionals.push(token);
      continue;
    }
    const [name, inline] = token.includes('=') ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)] : [token, undefined];
    const option = findOption(name as string);
    const hasValue = takesValue(argv, i, option, berthValues);
    const value = inline ?? (hasValue ? argv[i + 1] : undefined);
    if (hasValue) i++;
    const rule = option ? ruleFor(entry, option) : undefined;
    if (!rule) {
      options.push(token, ...(hasValue ? [value as string] : []));
      continue;
    }
    const shown = option?.short ? `--${option.long} (-${option.short})` : `--${option?.long}`;
    if ('refuse' in rule) throw usage(`\`deploy ${path}\`: Kamal's ${shown} has no Berth equivalent here`, rule.refuse);
    if ('drop' in rule) {
      if (rule.note) notes.push(rule.note);
    } else if ('lockWait' in rule) {
      options.push('--lock-wait', hasValue || inline !== undefined ? (value as string) : timeout);
    } else if ('single' in rule) {
      if (value === undefined || /[,*]/.test(value)) throw usage(`\`deploy ${path}\`: Berth's ${rule.single} takes one name, not ${JSON.stringify(value ?? '')}`, `run it once per ${rule.single.slice(2)}`);
      options.push(rule.single, value);
    } else {
      options.push(rule.to, ...(value !== undefined && option?.value ? [value] : []));
    }
  }
  return { argv: [...entry.berth, ...options, ...commandPositionals(entry, path, positionals, verbatim)], notes, form: path };
}

/**
 * Kamal joins a command's words with spaces for the server's shell; Berth
 * splits them the same way and runs no shell. Words after `--` are Berth's
 * own form, one word each, and stay as they are.
 */
function commandPositionals(entry: KamalCommand, path: string, positionals: string[], verbatim: string[] | undefined): string[] {
  if (!entry.command) return verbatim ? [...positionals, '--', ...verbatim] : positionals;
  const names = positionals.slice(0, entry.command.nameArgs);
  if (verbatim) return [...positionals, '--', ...verbatim];
  const text = positionals.slice(entry.command.nameArgs).map((w) => w.trim()).join(' ');
  if (text === '') throw usage(`\`deploy ${path}\` needs a command`, `usage: deploy ${path} ${entry.command.nameArgs ? 'NAME ' : ''}"CMD ARGS"`);
  const split = splitShellWords(text);
  if (!split.ok) throw usage(`\`deploy ${path}\`: the command ${JSON.stringify(text.slice(0, 200))} ${split.reason}`);
  return [...names, '--', ...split.words];
}
