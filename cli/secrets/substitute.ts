// `$VAR`, `${VAR}` and `$(command)` in secrets values, as Kamal 2 expands
// them (dotenv 3 with Kamal's InlineCommandSubstitution): commands first, with
// `$VAR` in the command text replaced beforehand; variables come from earlier
// lines of the same file, then the environment, else the empty string.
// Single-quoted values are taken literally.
//
// One deliberate difference: the gem expands variables again over a command's
// output, so a password printed by a password manager loses any `$word` in it.
// Here what a command prints is kept as printed.
//
// Commands run through an injected RunCommand, so this module stays pure.
// Messages name the file, line and key, never a value or a command's output.

import { ConfigError } from '../../shared/errors.js';
import type { DotenvEntry } from './dotenv.js';

export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_FILE_VALUES_BYTES = 1024 * 1024;
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

export interface CommandRequest {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
}

export type CommandResult =
  | { kind: 'ok'; stdout: string }
  /** `stdout`: what it printed before a non-zero exit, when that is text. */
  | { kind: 'exit'; code: number | null; signal: string | null; stdout?: string }
  | { kind: 'timeout' }
  | { kind: 'too_large' }
  | { kind: 'not_text' }
  | { kind: 'spawn_failed'; reason: string }
  /** A built-in command (`kamal secrets …`) failed; its message names no value. */
  | { kind: 'failed'; message: string; hint?: string };

export type RunCommand = (request: CommandRequest) => Promise<CommandResult>;

export interface SubstituteContext {
  /** Label of the file in messages, e.g. `.kamal/secrets`. */
  file: string;
  /** Where commands run: the app directory, as Kamal runs from there. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  run: RunCommand;
  timeoutMs?: number;
}

export interface ResolvedFile {
  /** Values in file order; a key set twice keeps its last value, as in the gem. */
  values: Map<string, string>;
  /** The line each key was (last) set on. */
  lines: Map<string, number>;
  warnings: string[];
}

type Part = { kind: 'text'; text: string } | { kind: 'var'; name: string } | { kind: 'command'; text: string };

const NAME_CHAR = /[A-Za-z0-9_]/;

/** `$NAME`, `${NAME}`, with the gem's lenient braces (`${NAME` and `$NAME}` also match). */
function readVariable(value: string, i: number): { end: number; name: string; raw: string; bashOperator: boolean } {
  let j = i + 1;
  const braced = value[j] === '{';
  if (braced) j++;
  const start = j;
  while (j < value.length && NAME_CHAR.test(value[j] as string)) j++;
  const name = value.slice(start, j);
  const bashOperator = braced && name !== '' && /^:?[-+?=]/.test(value.slice(j, j + 2));
  if (value[j] === '}') j++;
  return { end: j, name, raw: value.slice(i, j), bashOperator };
}

/** End (exclusive) of the balanced `$( … )` starting at i, or -1 when it is never closed. */
function commandEnd(value: string, i: number): number {
  let depth = 0;
  for (let j = i + 1; j < value.length; j++) {
    const ch = value[j];
    if (ch === '\\') {
      j++;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

function splitValue(value: string, allowCommands: boolean, where: string, warnings: string[]): Part[] {
  const parts: Part[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i] as string;
    if (ch === '\\' && value[i + 1] === '$') {
      // Inside a command's text the gem leaves `\$(` to the shell; elsewhere `\$` is a literal `$`.
      text += !allowCommands && value[i + 2] === '(' ? '\\$' : '$';
      i += 2;
    } else if (ch === '$' && value[i + 1] === '(') {
      // `$(` inside a command's text is the shell's business; `$()` is not a command to the gem.
      if (!allowCommands || value[i + 2] === ')') {
        text += '$(';
        i += 2;
        continue;
      }
      const end = commandEnd(value, i);
      if (end === -1) throw new ConfigError(`${where}: a $( command is never closed`, 'close it with ); an unquoted value ends at its first #, so put a command containing # in double quotes; write \\$( for a literal $(');
      if (text) parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'command', text: value.slice(i + 2, end - 1) });
      i = end;
    } else if (ch === '$') {
      const v = readVariable(value, i);
      if (v.bashOperator) {
        warnings.push(`${where}: \${${v.name}:-…}-style expansion is not supported (as in Kamal, only \${${v.name}} is replaced and the rest stays in the value)`);
      }
      if (v.name === '') {
        text += v.raw;
      } else {
        if (text) parts.push({ kind: 'text', text });
        text = '';
        parts.push({ kind: 'var', name: v.name });
      }
      i = v.end;
    } else {
      text += ch;
      i++;
    }
  }
  if (text) parts.push({ kind: 'text', text });
  return parts;
}

function programOf(command: string): string | undefined {
  return /^\s*([A-Za-z0-9_./+-]{1,64})(?:\s|$)/.exec(command)?.[1];
}

function commandFailure(result: Exclude<CommandResult, { kind: 'ok' }>, where: string, command: string, timeoutMs: number): ConfigError {
  const program = programOf(command);
  const named = program ? `the command \`${program} …\`` : 'the command';
  const hint = 'run the command yourself in the app directory to see its output; Berth never shows it, since it may contain secrets';
  switch (result.kind) {
    case 'exit': {
      if (result.code === 127) return new ConfigError(`${where}: ${named} was not found (exit status 127)`, 'install it or fix its name; commands run with /bin/sh -c in the app directory');
      const status = result.code !== null ? `exit status ${result.code}` : `signal ${result.signal ?? 'unknown'}`;
      return new ConfigError(`${where}: ${named} failed with ${status}`, hint);
    }
    case 'timeout':
      return new ConfigError(`${where}: ${named} did not finish within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`, 'commands run with stdin closed, so one that waits for input never ends; ' + hint);
    case 'too_large':
      return new ConfigError(`${where}: ${named} printed more than ${MAX_VALUE_BYTES / 1024} KiB`, 'a secret is one value; print only it');
    case 'not_text':
      return new ConfigError(`${where}: ${named} printed bytes that are not UTF-8 text or a NUL byte`, 'environment variables hold text; encode binary data, e.g. with base64');
    case 'spawn_failed':
      return new ConfigError(`${where}: ${named} could not be started (${result.reason})`);
    case 'failed':
      return new ConfigError(`${where}: ${result.message}`, result.hint);
  }
}

/** A trailing line break goes, like Ruby's `chomp`; the rest of the output is the value. */
function chomp(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n') || text.endsWith('\r')) return text.slice(0, -1);
  return text;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Expands every entry of one file in order and returns its values. */
export async function resolveEntries(entries: readonly DotenvEntry[], ctx: SubstituteContext): Promise<ResolvedFile> {
  const values = new Map<string, string>();
  const lines = new Map<string, number>();
  const warnings: string[] = [];
  const env = new Map(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined));
  const commandEnv = Object.fromEntries(env);
  const timeoutMs = ctx.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  let total = 0;

  const lookup = (name: string, where: string): string => {
    const found = values.get(name) ?? env.get(name);
    if (found !== undefined) return found;
    warnings.push(`${where}: $${name} is not set, so it is replaced by an empty string`);
    return '';
  };

  for (const entry of entries) {
    const where = `${ctx.file}:${entry.line}`;
    const tooLarge = () => new ConfigError(`${where}: the value of ${entry.key} is larger than ${MAX_VALUE_BYTES / 1024} KiB`);
    let value = '';
    if (entry.quote === 'single') {
      value = entry.value;
    } else {
      for (const part of splitValue(entry.value, true, where, warnings)) {
        if (part.kind === 'text') {
          value += part.text;
        } else if (part.kind === 'var') {
          value += lookup(part.name, where);
        } else {
          const command = splitValue(part.text, false, where, warnings)
            .map((p) => (p.kind === 'var' ? lookup(p.name, where) : p.kind === 'text' ? p.text : ''))
            .join('');
          const result = await ctx.run({ command, cwd: ctx.cwd, env: commandEnv, timeoutMs, maxOutputBytes: MAX_VALUE_BYTES });
          if (result.kind !== 'ok') throw commandFailure(result, where, part.text, timeoutMs);
          if (result.stdout.includes('\0')) throw commandFailure({ kind: 'not_text' }, where, part.text, timeoutMs);
          value += chomp(result.stdout);
        }
        // Checked as it grows, so `A=$A$A` repeated cannot double its way to gigabytes.
        if (value.length > MAX_VALUE_BYTES) throw tooLarge();
      }
    }
    if (byteLength(value) > MAX_VALUE_BYTES) throw tooLarge();
    total += byteLength(value);
    if (total > MAX_FILE_VALUES_BYTES) throw new ConfigError(`${ctx.file}: its values add up to more than ${MAX_FILE_VALUES_BYTES / 1024 / 1024} MiB`);
    values.set(entry.key, value);
    lines.set(entry.key, entry.line);
  }
  return { values, lines, warnings };
}
