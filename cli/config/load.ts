// Finds and reads deploy.yml: `-c FILE`, else ./deploy.yml, else ./config/deploy.yml
// (Kamal's place); with `-d DEST`, deploy.DEST.yml beside it is merged over it.

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError, UserError } from '../../shared/errors.js';
import { cronRoleHints } from './cron-hint.js';
import { isPlainObject, renderWarnings } from './issues.js';
import { deepMerge, locator, type SourceDoc } from './merge.js';
import { validateConfig, type DeployConfig } from './schema.js';
import { renderErb, type ErbSource, type RenderedSource } from './erb.js';
import { parseYaml } from './yaml.js';

const MAX_CONFIG_BYTES = 1024 * 1024;

type ProcessEnv = Readonly<Record<string, string | undefined>>;
const DESTINATION = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface LoadedConfig {
  config: DeployConfig;
  /** The base file; `files` lists every file read, base first. */
  file: string;
  files: string[];
  /** The app's root: where `.berth/known_agents` lives and git is asked for the version. */
  appDir: string;
  /** '' without -d. */
  destination: string;
  /** Rendered `warning: key: why (file:line)` lines, for stderr. */
  warnings: string[];
  /** `hint: …` lines `deploy config` prints (a cron role the `cron:` key could replace). */
  hints: string[];
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The config file to use and the app dir it belongs to, or undefined when there is none. */
export async function findConfigFile(cwd: string, explicit?: string): Promise<{ file: string; appDir: string } | undefined> {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    if (!(await isFile(file))) throw new ConfigError(`config file ${explicit} not found`, 'check the path given to -c/--config');
    const dir = dirname(file);
    return { file, appDir: basename(dir) === 'config' ? dirname(dir) : dir };
  }
  for (const candidate of ['deploy.yml', 'config/deploy.yml']) {
    const file = resolve(cwd, candidate);
    if (await isFile(file)) return { file, appDir: cwd };
  }
  return undefined;
}

function labelFor(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** `deploy.yml` → `deploy.DEST.yml`, like Ruby's Pathname#sub_ext. */
export function destinationFile(baseFile: string, destination: string): string {
  const name = basename(baseFile);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  return join(dirname(baseFile), `${stem}.${destination}.yml`);
}

/** Destinations that have a file beside the base file, for hints. */
export async function availableDestinations(baseFile: string): Promise<string[]> {
  const name = basename(baseFile);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const entries = await readdir(dirname(baseFile)).catch(() => [] as string[]);
  return entries
    .map((entry) => (entry.startsWith(`${stem}.`) && entry.endsWith('.yml') ? entry.slice(stem.length + 1, -4) : ''))
    .filter((d) => DESTINATION.test(d))
    .sort();
}

async function readSource(file: string, cwd: string): Promise<ErbSource> {
  const label = labelFor(file, cwd);
  const info = await stat(file);
  if (info.size > MAX_CONFIG_BYTES) throw new ConfigError(`${label} is larger than ${MAX_CONFIG_BYTES} bytes`);
  return { label, text: await readFile(file, 'utf8') };
}

/** The files (base first), ERB rendered together as Kamal does, then parsed. */
async function readDocs(files: string[], cwd: string, appDir: string, destination: string, env: ProcessEnv | undefined): Promise<SourceDoc[]> {
  const sources = await Promise.all(files.map((file) => readSource(file, cwd)));
  const rendered = await renderErb(sources, appDir, destination, { maxBytes: MAX_CONFIG_BYTES, ...(env ? { env } : {}) });
  return sources.map(({ label }, i) => {
    const { text, lines } = rendered[i] as RenderedSource;
    const { value, lineOf } = parseYaml(text, label, lines);
    return { value, label, lineOf };
  });
}

function destinationHint(available: string[]): string {
  return available.length ? `destinations with a file: ${available.join(', ')}` : 'create deploy.DESTINATION.yml beside deploy.yml';
}

/** `env` is what ERB in the files sees (the CLI's environment; process.env when not given). */
export async function loadConfigFile(file: string, appDir: string, cwd: string, destination = '', env?: ProcessEnv): Promise<LoadedConfig> {
  if (destination !== '' && !DESTINATION.test(destination)) {
    throw new UserError(`destination "${destination.slice(0, 70)}" should be lowercase letters, digits, - or _`, undefined, 'usage');
  }
  const files = [file];
  if (destination !== '') {
    const destFile = destinationFile(file, destination);
    if (!(await isFile(destFile))) {
      throw new ConfigError(`destination ${destination}: configuration file ${labelFor(destFile, cwd)} not found`, destinationHint(await availableDestinations(file)));
    }
    files.push(destFile);
  }
  const docs = await readDocs(files, cwd, appDir, destination, env);
  const base = docs[0] as SourceDoc;
  if (destination === '') {
    if (isPlainObject(base.value) && base.value.require_destination === true) {
      const line = base.lineOf(['require_destination']);
      throw new ConfigError(
        `require_destination: is true, so a destination must be given with -d DESTINATION (${base.label}${line ? `:${line}` : ''})`,
        destinationHint(await availableDestinations(file)),
      );
    }
  }
  const merged = docs.reduce<unknown>((acc, doc) => deepMerge(acc, doc.value), {});
  const locate = locator(docs);
  let validated;
  try {
    validated = validateConfig(docs.length === 1 ? base.value : merged, locate, destination);
  } catch (err) {
    const available = destination === '' && err instanceof ConfigError ? await availableDestinations(file) : [];
    // A base file whose hosts live in destination files fails without -d; say which exist.
    if (available.length) throw new ConfigError(err instanceof Error ? err.message : String(err), `${destinationHint(available)} (pass -d DESTINATION)`);
    throw err;
  }
  const { config, warnings } = validated;
  // Kamal expands accessory files against its working directory, the app's.
  for (const acc of config.accessories) {
    for (const f of acc.files) {
      f.path = resolve(appDir, f.local);
      if (f.erbIn !== undefined) f.erbIn = appDir;
    }
  }
  return {
    config,
    file,
    files: docs.map((d) => d.label),
    appDir,
    destination,
    warnings: renderWarnings(warnings, locate),
    hints: cronRoleHints(config),
  };
}

export async function loadConfig(cwd: string, explicit?: string, destination = '', env?: ProcessEnv): Promise<LoadedConfig> {
  const found = await findConfigFile(cwd, explicit);
  if (!found) {
    throw new ConfigError(`no deploy.yml in ${cwd} (looked for deploy.yml and config/deploy.yml)`, 'run deploy from your app directory or pass -c FILE');
  }
  return loadConfigFile(found.file, found.appDir, cwd, destination, env);
}
