// Loading an app's secrets the way Kamal 2 does (see files.ts for which files,
// dotenv.ts for the format, substitute.ts for `$VAR` and `$(command)`), into a
// store that hands out values by name and hides them in anything shown.

import { ConfigError } from '../../shared/errors.js';
import { parseDotenv } from './dotenv.js';
import { readSecretsFile, secretsFileCandidates } from './files.js';
import { withKamalSecrets } from './kamal-secrets.js';
import { makeRedactor } from './redact.js';
import { resolveEntries, type RunCommand } from './substitute.js';

export interface SecretStore {
  /** The value of a secret; ConfigError naming it and the files it was looked for in when it is not defined. */
  get(name: string): string;
  has(name: string): boolean;
  /** Names of every loaded secret, sorted. */
  names(): string[];
  /** `file:line` where a secret was (last) set, for messages; never its value. */
  origin(name: string): string | undefined;
  /** `text` with every loaded secret value replaced by [REDACTED]. */
  redact(text: string): string;
  /** The files that were read, lowest precedence first. */
  readonly files: readonly string[];
  /** The files that would have been read, had they existed. */
  readonly candidates: readonly string[];
  /** Things Kamal also accepts but which are likely mistakes (an unset $VAR); no values in them. */
  readonly warnings: readonly string[];
}

export interface LoadSecretsOptions {
  /** Kamal's `secrets_path` (default `.kamal/secrets`), relative to the app directory. */
  secretsPath?: string;
  /** Time limit for each `$(command)`, default 60 s. */
  commandTimeoutMs?: number;
}

function describeFiles(labels: readonly string[]): string {
  if (labels.length <= 1) return labels.join('');
  return `${labels.slice(0, -1).join(', ')} or ${labels[labels.length - 1]}`;
}

/**
 * Reads and expands the secrets files of the app in `appDir` for `destination`
 * ('' or undefined for none). `env` is the environment `$VAR` falls back to and
 * commands run with; `runCommand` runs `$(command)` (runShellCommand in
 * production), except `$(kamal secrets …)`, which is built in as in Kamal.
 */
export async function loadSecrets(
  appDir: string,
  destination: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  runCommand: RunCommand,
  options: LoadSecretsOptions = {},
): Promise<SecretStore> {
  const candidates = secretsFileCandidates(destination, options.secretsPath);
  const values = new Map<string, string>();
  const origins = new Map<string, string>();
  const files: string[] = [];
  const warnings: string[] = [];
  const run = withKamalSecrets(runCommand);

  // One file after the other, each expanded on its own (as Kamal parses each
  // file separately): commands in later files may depend on what earlier ones did.
  for (const label of candidates) {
    const text = await readSecretsFile(appDir, label);
    if (text === undefined) continue;
    files.push(label);
    const resolved = await resolveEntries(parseDotenv(text, label, { linebreakMode: env.DOTENV_LINEBREAK_MODE }), {
      file: label,
      cwd: appDir,
      env,
      run,
      ...(options.commandTimeoutMs !== undefined ? { timeoutMs: options.commandTimeoutMs } : {}),
    });
    for (const [key, value] of resolved.values) {
      values.set(key, value);
      origins.set(key, `${label}:${resolved.lines.get(key) ?? 0}`);
    }
    warnings.push(...resolved.warnings);
  }

  const redact = makeRedactor(values.values());
  const store: SecretStore = {
    get(name: string): string {
      const value = values.get(name);
      if (value !== undefined) return value;
      const shown = /^[A-Za-z0-9_.]{1,128}$/.test(name) ? name : JSON.stringify(name.slice(0, 128));
      if (files.length === 0) {
        const primary = candidates.find((c) => !c.endsWith('-common')) ?? candidates[0];
        throw new ConfigError(`secret ${shown} not found: there is no secrets file (looked for ${describeFiles(candidates)})`, `create ${primary} with a line ${shown}=…`);
      }
      throw new ConfigError(`secret ${shown} not found in ${describeFiles(files)}`, `add a line ${shown}=… to one of them (values may be $VAR or $(command))`);
    },
    has: (name) => values.has(name),
    names: () => [...values.keys()].sort(),
    origin: (name) => origins.get(name),
    redact,
    files,
    candidates,
    warnings,
  };
  // Values live only in this closure: printing or serializing the store shows none of them.
  return Object.assign(store, { toJSON: () => ({ files, names: store.names() }) });
}
