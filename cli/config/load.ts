// Finds and reads deploy.yml: `-c FILE`, else ./deploy.yml, else ./config/deploy.yml (Kamal's place).

import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { validateConfig, type DeployConfig } from './schema.js';
import { parseYaml } from './yaml.js';

const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadedConfig {
  config: DeployConfig;
  file: string;
  /** The app's root: where `.berth/known_agents` lives and git is asked for the version. */
  appDir: string;
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

export async function loadConfigFile(file: string, appDir: string, cwd: string): Promise<LoadedConfig> {
  const label = labelFor(file, cwd);
  const info = await stat(file);
  if (info.size > MAX_CONFIG_BYTES) throw new ConfigError(`${label} is larger than ${MAX_CONFIG_BYTES} bytes`);
  const text = await readFile(file, 'utf8');
  const { value, lineOf } = parseYaml(text, label);
  return { config: validateConfig(value, label, lineOf), file, appDir };
}

export async function loadConfig(cwd: string, explicit?: string): Promise<LoadedConfig> {
  const found = await findConfigFile(cwd, explicit);
  if (!found) {
    throw new ConfigError(`no deploy.yml in ${cwd} (looked for deploy.yml and config/deploy.yml)`, 'run deploy from your app directory or pass -c FILE');
  }
  return loadConfigFile(found.file, found.appDir, cwd);
}
