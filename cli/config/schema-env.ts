// `env:` as Kamal 2 reads it: a plain map (all clear), or `clear:` / `secret:`
// (`NAME` or `NAME:SECRET_NAME`) / `tags:` (top level only). Values are Kamal's
// "stringish": numbers and booleans become strings. Variable names may hold
// dots and dashes (OpenSearch's `discovery.type`): Docker and Kamal pass them on.

import { ENV_VARIABLE_NAME } from '../../shared/manifest-names.js';
import { Findings, isPlainObject } from './issues.js';
import type { EnvConfig, SecretRef } from './types.js';
import type { KeyPath } from './yaml.js';

/** A name a .kamal/secrets line can define (no `-`, unlike a variable name). */
const SECRET_FILE_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,127}$/;

/** The name of a secret elsewhere in deploy.yml (registry, cron, backups...): letters, digits and _. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ENV_VALUE = 32 * 1024;
const MAX_ENV_VARS = 500;
const SPECIAL = ['clear', 'secret', 'tags'];

export function emptyEnv(): EnvConfig {
  return { clear: {}, secret: [] };
}

function checkClear(raw: unknown, path: KeyPath, findings: Findings): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map of NAME: value');
    return {};
  }
  const out: Record<string, string> = {};
  const entries = Object.entries(raw);
  if (entries.length > MAX_ENV_VARS) findings.error(path, `should have at most ${MAX_ENV_VARS} variables`);
  for (const [name, value] of entries.slice(0, MAX_ENV_VARS)) {
    if (!ENV_VARIABLE_NAME.test(name)) {
      findings.error([...path, name], 'is not a valid variable name (letters, digits, _, . and -, starting with a letter or _)');
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const text = String(value);
      if (text.length > MAX_ENV_VALUE || text.includes('\0')) findings.error([...path, name], `should be text of at most ${MAX_ENV_VALUE} characters`);
      else out[name] = text;
    } else {
      findings.error([...path, name], 'should be a string');
    }
  }
  return out;
}

function checkSecret(raw: unknown, path: KeyPath, findings: Findings): SecretRef[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    findings.error(path, 'should be a list of secret names (NAME or NAME:SECRET_NAME)');
    return [];
  }
  if (raw.length > MAX_ENV_VARS) findings.error(path, `should have at most ${MAX_ENV_VARS} items`);
  const out: SecretRef[] = [];
  raw.slice(0, MAX_ENV_VARS).forEach((entry, i) => {
    const [name, secret, extra] = typeof entry === 'string' ? entry.split(':') : [];
    // The secret's name is what a .kamal/secrets line can define (cli/secrets/dotenv.ts): no dashes there.
    if (name === undefined || !ENV_VARIABLE_NAME.test(name) || !SECRET_FILE_NAME.test(secret ?? name) || extra !== undefined) {
      findings.error([...path, i], 'should be NAME or NAME:SECRET_NAME (letters, digits, _ and .; a variable name may also hold -)');
      return;
    }
    out.push({ name, secret: secret ?? name });
  });
  return out;
}

/** True when a planned env names a variable older agents refuse (a dot or a dash: feature env.names.v1). */
export function usesWideEnvNames(env: { clear: Record<string, string>; secretNames: Record<string, string> }): boolean {
  return [...Object.keys(env.clear), ...Object.keys(env.secretNames)].some((name) => !ENV_NAME.test(name));
}

/** One env section; `allowTags` only for the top-level env, as in Kamal. */
export function checkEnv(raw: unknown, path: KeyPath, findings: Findings, allowTags: boolean): { env: EnvConfig; tags: Record<string, EnvConfig> } {
  const tags: Record<string, EnvConfig> = {};
  if (raw === undefined || raw === null) return { env: emptyEnv(), tags };
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map');
    return { env: emptyEnv(), tags };
  }
  if (!SPECIAL.some((key) => key in raw)) return { env: { clear: checkClear(raw, path, findings), secret: [] }, tags };
  for (const key of Object.keys(raw)) {
    if (!SPECIAL.includes(key)) findings.error([...path, key], 'unknown key (with clear/secret, every plain variable goes under clear)');
  }
  if ('tags' in raw) {
    if (!allowTags) findings.error([...path, 'tags'], 'tags are only allowed in the top-level env');
    else if (!isPlainObject(raw.tags)) findings.error([...path, 'tags'], 'should be a map of tag: env');
    else {
      for (const [tag, value] of Object.entries(raw.tags)) {
        if (!isPlainObject(value)) findings.error([...path, 'tags', tag], 'should be a map');
        else tags[tag] = checkEnv(value, [...path, 'tags', tag], findings, false).env;
      }
    }
  }
  return { env: { clear: checkClear(raw.clear, [...path, 'clear'], findings), secret: checkSecret(raw.secret, [...path, 'secret'], findings) }, tags };
}

/** Kamal's Env#merge: later clear values and secrets win by variable name. */
export function mergeEnv(...envs: EnvConfig[]): EnvConfig {
  const clear: Record<string, string> = {};
  const secrets = new Map<string, SecretRef>();
  for (const env of envs) {
    for (const [name, value] of Object.entries(env.clear)) {
      clear[name] = value;
      secrets.delete(name);
    }
    for (const ref of env.secret) {
      secrets.set(ref.name, ref);
      delete clear[ref.name];
    }
  }
  return { clear, secret: [...secrets.values()] };
}
