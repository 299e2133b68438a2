// Before the command line is parsed: a word that names no command may be an
// alias from deploy.yml (`aliases: {console: app exec -i --reuse "bin/rails
// console"}`); its words replace it and the rest of the line is appended, as
// Kamal does. Then a Kamal form (cli/kamal-translate.ts) becomes the Berth
// command line that does the same. Commands, Berth's or Kamal's, win over an
// alias of the same name (Kamal refuses such aliases in the config).

import { UserError } from '../shared/errors.js';
import { rubyShellSplit } from './secrets/shellwords.js';
import { valueOptionNames, type CommandSpec, type ConfigCache } from './command.js';
import { KAMAL_COMMANDS, KAMAL_GROUPS } from './kamal-commands.js';
import { configSelection, positionalIndexes, positionalWords, translateKamal } from './kamal-translate.js';

/** Aliases that expand to aliases; a loop stops here. */
const MAX_ALIAS_DEPTH = 8;

export interface ResolvedLine {
  argv: string[];
  notes: string[];
}

/** The aliases of the deploy.yml the line names (-c, -d), or why they could not be read. */
export type AliasSource = (argv: readonly string[]) => Promise<{ aliases: Readonly<Record<string, string>> } | { failed: string }>;

function isKnownWord(word: string, commands: readonly CommandSpec[]): boolean {
  if (word === 'help' || KAMAL_GROUPS.has(word)) return true;
  if (Object.keys(KAMAL_COMMANDS).some((k) => k.split(' ')[0] === word)) return true;
  return commands.some((c) => c.path[0] === word || (c.aliases ?? []).some((a) => a[0] === word));
}

/**
 * An alias body split as Kamal splits it (Ruby's Shellwords.split, the same
 * port `kamal secrets` uses): quotes and backslashes only, `$` and `|` are
 * plain characters. What they mean to a shell is judged later, on the command
 * `app exec` runs.
 */
export function splitAliasWords(text: string): string[] | undefined {
  const split = rubyShellSplit(text);
  return split.ok ? split.words : undefined;
}

/** `argv` with its first positional word replaced by `body`'s words, the rest appended after them. */
export function expandAlias(argv: readonly string[], name: string, body: string, berthValues?: ReadonlySet<string>): string[] {
  const words = splitAliasWords(body);
  if (!words) throw new UserError(`alias ${name}: ${JSON.stringify(body.slice(0, 200))} has an unmatched quote`, 'fix aliases: in deploy.yml', 'config_invalid');
  const at = positionalIndexes(argv, berthValues)[0] ?? argv.length;
  return [...words, ...argv.slice(0, at), ...argv.slice(at + 1)];
}

export async function resolveCommandLine(argv: readonly string[], commands: readonly CommandSpec[], aliasSource: AliasSource): Promise<ResolvedLine> {
  let line = [...argv];
  let source: Awaited<ReturnType<AliasSource>> | undefined;
  // Option values (`--comment x`) are never taken for command words.
  const berthValues = valueOptionNames(commands);
  for (let depth = 0; ; depth++) {
    const first = positionalWords(line, berthValues)[0];
    if (first === undefined || isKnownWord(first, commands)) break;
    source ??= await aliasSource(line);
    if ('failed' in source) {
      throw new UserError(`unknown command \`${first}\``, `it is not an alias either: deploy.yml could not be read (${source.failed.slice(0, 300)}); run \`deploy --help\` for usage`, 'usage');
    }
    const body = Object.hasOwn(source.aliases, first) ? source.aliases[first] : undefined;
    if (body === undefined) break;
    if (depth >= MAX_ALIAS_DEPTH) throw new UserError(`alias ${first} expands to aliases more than ${MAX_ALIAS_DEPTH} deep`, 'an alias probably names itself; fix aliases: in deploy.yml', 'config_invalid');
    line = expandAlias(line, first, body, berthValues);
  }
  const translated = translateKamal(line, berthValues);
  return translated ? { argv: translated.argv, notes: translated.notes } : { argv: line, notes: [] };
}

/**
 * Aliases from the deploy.yml under `cwd` the line names; config loading is
 * imported only when a line needs it, and the load is kept in `cache` for the
 * command the alias runs.
 */
export function configAliases(cwd: string, env: Readonly<Record<string, string | undefined>>, cache: ConfigCache): AliasSource {
  return async (argv) => {
    const { config, destination } = configSelection(argv);
    try {
      const { loadConfigOnce } = await import('./app-config.js');
      return { aliases: (await loadConfigOnce(cache, cwd, config, destination ?? '', env)).config.aliases };
    } catch (err) {
      return { failed: err instanceof Error ? err.message : String(err) };
    }
  };
}
