// ERB in deploy.yml, rendered before YAML parsing as Kamal does. With `ruby`
// on PATH, Ruby's own ERB renders it (erb-ruby.ts); without it, or with
// BERTH_ERB=builtin, a safe subset is evaluated here (erb-builtin.ts).
// BERTH_ERB=ruby insists on Ruby. Files without `<%` start no process.
// Either way each rendered line keeps the source line it came from, so YAML
// and config errors point into the file as written.

import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { parseDotenv } from '../secrets/dotenv.js';
import { makeRedactor } from '../secrets/redact.js';
import { runShellCommand } from '../secrets/run-command.js';
import { resolveEntries, type CommandResult } from '../secrets/substitute.js';
import { BuiltinErb, ErbEffectError, RUBY_HINT, renderedTooLarge, type ErbHost } from './erb-builtin.js';
import { findRuby, renderWithRuby, type RubyFileResult } from './erb-ruby.js';
import { hasErb, markTemplate, scanErb, unmark } from './erb-scan.js';
import { KAMAL1_ERRORS } from './kamal.js';

export const DEFAULT_ERB_TIMEOUT_MS = 30_000;

export interface ErbSource {
  label: string;
  text: string;
}

export interface RenderedSource {
  text: string;
  /** The source line of each rendered line; undefined when the file has no ERB. */
  lines?: number[];
}

export interface ErbOptions {
  /** The CLI's environment (process.env by default). */
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  maxBytes: number;
}

type Mode = 'auto' | 'ruby' | 'builtin';

function modeOf(value: string | undefined): Mode {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'ruby' || value === 'builtin') return value;
  throw new ConfigError(`BERTH_ERB should be ruby, builtin or auto`, 'ruby renders ERB with Ruby, builtin with the subset Berth evaluates itself, auto (the default) with Ruby when it is installed');
}

/** A Kamal 1 file's ERB error would hide what is really wrong, so name its Kamal 1 keys instead. */
function kamal1Error(sources: readonly ErbSource[]): ConfigError | undefined {
  const found: string[] = [];
  const labels = new Set<string>();
  for (const source of sources) {
    source.text.split('\n').forEach((line, i) => {
      const key = /^([a-z_]+):(\s|$)/.exec(line)?.[1];
      const message = key !== undefined && Object.hasOwn(KAMAL1_ERRORS, key) ? KAMAL1_ERRORS[key] : undefined;
      if (message === undefined) return;
      found.push(`${key}: ${message} (${source.label}:${i + 1})`);
      labels.add(source.label);
    });
  }
  if (found.length === 0) return undefined;
  // Laid out as config problems are (issues.ts renderIssues): one, or a count and one per line.
  return new ConfigError(found.length === 1 ? (found[0] ?? '') : [`${found.length} problems in ${[...labels].join(' and ')}:`, ...found.map((f) => `  ${f}`)].join('\n'));
}

function builtinHost(cwd: string, env: Map<string, string>, timeoutMs: number, maxBytes: number): ErbHost {
  const command = async (commandText: string, commandEnv: Record<string, string>): Promise<string> => {
    const result: CommandResult = await runShellCommand({ command: commandText, cwd, env: commandEnv, timeoutMs, maxOutputBytes: maxBytes });
    if (result.kind === 'ok') return result.stdout;
    if (result.kind === 'timeout') throw new ErbEffectError(`took longer than ${timeoutMs / 1000} s`);
    if (result.kind === 'too_large') throw new ErbEffectError(`printed more than ${maxBytes} bytes`);
    if (result.kind === 'not_text') throw new ErbEffectError('printed something that is not UTF-8 text');
    // Ruby's backticks give what the command printed whatever its exit status
    // (`git describe` outside a repository prints nothing and exits 128).
    if (result.kind === 'exit' && result.stdout !== undefined) return result.stdout;
    if (result.kind === 'exit') throw new ErbEffectError(`exited with ${result.signal ?? `status ${result.code}`}`);
    // `failed` is what the built-in `kamal secrets` commands give; plain sh never does.
    if (result.kind === 'failed') throw new ErbEffectError(result.message);
    throw new ErbEffectError(`could not start /bin/sh: ${result.reason}`);
  };
  const read = async (path: string): Promise<string | undefined> => {
    try {
      if ((await stat(path)).size > maxBytes) throw new ErbEffectError(`the file is larger than ${maxBytes} bytes`);
      return await readFile(path, 'utf8');
    } catch (err) {
      if (err instanceof ErbEffectError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new ErbEffectError(`cannot read the file (${code ?? 'error'})`);
    }
  };
  return {
    cwd,
    env,
    run: command,
    async readFile(path) {
      const text = await read(path);
      if (text === undefined) throw new ErbEffectError('raised Errno::ENOENT: no such file');
      return text;
    },
    async readDotenv(path, dotenvEnv) {
      const text = await read(path);
      if (text === undefined) return undefined;
      const label = relative(cwd, path);
      const resolved = await resolveEntries(parseDotenv(text, label, { linebreakMode: dotenvEnv.DOTENV_LINEBREAK_MODE }), {
        file: label,
        cwd,
        env: dotenvEnv,
        run: runShellCommand,
        timeoutMs,
      });
      return resolved.values;
    },
  };
}

/** Ruby's message with values that may be secrets taken out: quoted strings the templates do not contain, and ENV values. */
function sanitizeRubyMessage(message: string, sources: readonly ErbSource[], env: Record<string, string>): string {
  const redact = makeRedactor(Object.values(env).filter((v) => v.length >= 6));
  const firstLine = message.replace(/\u0001[0-9a-f]+:\d+\u0002/g, '').split('\n')[0] ?? '';
  const unquoted = firstLine.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, (quoted) =>
    sources.some((s) => s.text.includes(quoted.slice(1, -1))) ? quoted : '"…"',
  );
  const short = unquoted.length > 300 ? `${unquoted.slice(0, 297)}...` : unquoted;
  return redact(short);
}

/** The ERB tag that was running at `line`: the last tag that starts on or before it. */
function tagAt(source: string, line: number): string | undefined {
  let found: string | undefined;
  for (const seg of scanErb(source)) {
    if (seg.line > line) break;
    if (seg.kind === 'code' || seg.kind === 'expr') {
      const code = seg.code.replace(/\s+/g, ' ').trim();
      found = `<%${seg.kind === 'expr' ? '=' : ''} ${code.length > 100 ? `${code.slice(0, 97)}...` : code} %>`;
    }
  }
  return found;
}

function rubyFailure(result: RubyFileResult, source: ErbSource, sources: readonly ErbSource[], env: Record<string, string>, maxBytes: number): ConfigError {
  if ('text' in result) return new ConfigError(`ERB in ${source.label} could not be rendered`);
  if (result.error === 'too_large') return renderedTooLarge(source.label, maxBytes);
  if (result.error !== 'exception') return new ConfigError(`${source.label} renders (ERB) to something that is not UTF-8 text`);
  const where = result.line ? `${source.label}:${result.line}` : source.label;
  const tag = result.line ? tagAt(source.text, result.line) : undefined;
  const message = sanitizeRubyMessage(result.message, sources, env);
  // Kamal's gems (dotenv, activesupport) may be missing from a plain Ruby.
  const hint = result.class === 'LoadError' ? `install the gem it names (Kamal depends on dotenv), or set BERTH_ERB=builtin` : undefined;
  return new ConfigError(`ERB ${tag ? `${tag} ` : ''}failed in Ruby: ${result.class}: ${message} (${where})`, hint);
}

async function renderAll(sources: readonly ErbSource[], cwd: string, env: Record<string, string>, options: ErbOptions): Promise<RenderedSource[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ERB_TIMEOUT_MS;
  const mode = modeOf(env.BERTH_ERB);
  const ruby = mode === 'builtin' ? undefined : findRuby(env.PATH);
  if (mode === 'ruby' && ruby === undefined) throw new ConfigError('BERTH_ERB=ruby, but there is no ruby on PATH', RUBY_HINT);
  const nonce = randomBytes(8).toString('hex');
  const withErb = sources.filter((s) => hasErb(s.text));
  const rendered = new Map<ErbSource, string>();
  if (ruby !== undefined) {
    const outcome = await renderWithRuby(ruby, withErb.map((s) => markTemplate(s.text, nonce)), { cwd, env, timeoutMs, maxBytes: options.maxBytes });
    const labels = withErb.map((s) => s.label).join(', ');
    if (outcome.kind === 'timeout') {
      throw new ConfigError(`rendering ERB in ${labels} with Ruby took longer than ${timeoutMs / 1000} s`, 'a command in a <% %> tag may be waiting for input');
    }
    if (outcome.kind === 'failed') throw new ConfigError(`rendering ERB in ${labels}: ${outcome.reason}`, 'BERTH_ERB=builtin renders without Ruby');
    withErb.forEach((source, i) => {
      const result = outcome.results[i];
      if (result === undefined) return;
      if (!('text' in result)) throw rubyFailure(result, source, sources, env, options.maxBytes);
      rendered.set(source, result.text);
    });
    if (rendered.size !== withErb.length) throw new ConfigError(`ERB in ${labels} could not be rendered`);
  } else {
    const erb = new BuiltinErb(builtinHost(cwd, new Map(Object.entries(env)), timeoutMs, options.maxBytes));
    for (const source of withErb) rendered.set(source, await erb.render(source.text, source.label, nonce, options.maxBytes));
  }
  return sources.map((source) => {
    const marked = rendered.get(source);
    if (marked === undefined) return { text: source.text };
    const { text, lines } = unmark(marked, nonce);
    if (Buffer.byteLength(text) > options.maxBytes) throw renderedTooLarge(source.label, options.maxBytes);
    return { text, lines };
  });
}

/**
 * The config files (base first) rendered as Kamal renders them: in the app
 * directory, with the CLI's environment plus KAMAL_DESTINATION (set to the
 * destination, or unset without one, as Kamal does).
 */
export async function renderErb(sources: readonly ErbSource[], appDir: string, destination: string, options: ErbOptions): Promise<RenderedSource[]> {
  if (!sources.some((s) => hasErb(s.text))) return sources.map((s) => ({ text: s.text }));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.env ?? process.env)) if (value !== undefined) env[key] = value;
  if (destination === '') delete env.KAMAL_DESTINATION;
  else env.KAMAL_DESTINATION = destination;
  try {
    return await renderAll(sources, appDir, env, options);
  } catch (err) {
    throw (err instanceof ConfigError && kamal1Error(sources)) || err;
  }
}
