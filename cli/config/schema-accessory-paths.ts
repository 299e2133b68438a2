// An accessory's `files:` and `directories:` in Kamal's two forms: the string
// `local:remote[:options]` and the map {local, remote, mode, owner, options}.
// Files carry their content in the manifest (read at push); a directory is a
// NAME the agent keeps for the accessory (Kamal puts a relative name under the
// accessory's own directory) or an absolute host path.

import { Findings, isPlainObject } from './issues.js';
import { forbiddenSource } from './options.js';
import type { AccessoryDirectoryConfig, AccessoryFileConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const MAX_PATHS = 32;
const CONTAINER_PATH = /^\/[^\x00-\x1f\x7f:]{0,1023}$/;
const DIRECTORY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// Kamal chmods every uploaded file to 755 unless the map form gives a mode.
export const KAMAL_FILE_MODE = '0755';
const MAP_KEYS = ['local', 'remote', 'mode', 'owner', 'options'];

interface Entry {
  local: string;
  remote: string;
  options?: string;
  mode?: string;
  owner?: string;
}

// YAML reads an unquoted 0600 as the integer 600; its digits are what was meant.
function modeText(raw: unknown): string | undefined {
  const text = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : raw;
  if (typeof text !== 'string' || !/^0?[0-7]{3}$/.test(text)) return undefined;
  return text.length === 3 ? `0${text}` : text;
}

function entryOf(item: unknown, at: KeyPath, findings: Findings, what: string): Entry | undefined {
  const shape = `should be ${what === 'file' ? 'LOCAL_FILE' : 'NAME_OR_HOST_PATH'}:/container/path[:options] or a map with local and remote`;
  if (typeof item === 'string') {
    const [local = '', remote = '', ...rest] = item.split(':');
    if (local === '' || remote === '' || /[\0\n\r]/.test(item) || item.length > 2048) {
      findings.error(at, shape);
      return undefined;
    }
    return { local, remote, ...(rest.length > 0 ? { options: rest.join(':') } : {}) };
  }
  if (!isPlainObject(item) || typeof item.local !== 'string' || typeof item.remote !== 'string' || item.local === '' || item.remote === '') {
    findings.error(at, shape);
    return undefined;
  }
  for (const key of Object.keys(item)) if (!MAP_KEYS.includes(key)) findings.error([...at, key], 'unknown key');
  const entry: Entry = { local: item.local, remote: item.remote };
  if (item.options !== undefined) entry.options = String(item.options);
  if (item.mode !== undefined) {
    const mode = modeText(item.mode);
    if (mode === undefined) findings.error([...at, 'mode'], 'should be an octal mode like "0644" (quoted)');
    else entry.mode = mode;
  }
  if (item.owner !== undefined) {
    const owner = String(item.owner);
    // The agent sets ownership numerically: a user name means nothing outside the image.
    if (!/^\d{1,10}(:\d{1,10})?$/.test(owner)) findings.error([...at, 'owner'], `should be a numeric UID or UID:GID (the ids the image uses for that user), not ${JSON.stringify(owner.slice(0, 64))}`);
    else entry.owner = owner;
  }
  return entry;
}

function list(raw: unknown, path: KeyPath, findings: Findings, what: string): Array<[Entry, KeyPath]> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    findings.error(path, `should be a list of ${what === 'file' ? 'LOCAL_FILE' : 'NAME'}:/container/path entries`);
    return [];
  }
  if (raw.length > MAX_PATHS) findings.error(path, `should have at most ${MAX_PATHS} items`);
  const out: Array<[Entry, KeyPath]> = [];
  const targets = new Set<string>();
  raw.slice(0, MAX_PATHS).forEach((item, i) => {
    const entry = entryOf(item, [...path, i], findings, what);
    if (!entry) return;
    if (!CONTAINER_PATH.test(entry.remote)) findings.error([...path, i], `${entry.remote.slice(0, 100)} should be an absolute path in the container`);
    // A file's sealed content is bound to its target, so one target is one file.
    else if (targets.has(entry.remote)) findings.error([...path, i], `${entry.remote.slice(0, 100)} is mounted twice`);
    else {
      targets.add(entry.remote);
      out.push([entry, [...path, i]]);
    }
  });
  return out;
}

export function checkAccessoryFiles(raw: unknown, path: KeyPath, findings: Findings): AccessoryFileConfig[] {
  const out: AccessoryFileConfig[] = [];
  for (const [entry, at] of list(raw, path, findings, 'file')) {
    if (entry.options !== undefined) findings.warn(at, `options ${entry.options}: not in force yet: Berth passes no mount options for accessory files`);
    // Kamal renders a file whose name ends in `erb` as ERB (the loader records where).
    out.push({ local: entry.local, remote: entry.remote, mode: entry.mode ?? KAMAL_FILE_MODE, ...(entry.owner ? { owner: entry.owner } : {}), ...(entry.local.endsWith('erb') ? { erbIn: '' } : {}) });
  }
  return out;
}

export function checkAccessoryDirectories(raw: unknown, path: KeyPath, findings: Findings): AccessoryDirectoryConfig[] {
  const out: AccessoryDirectoryConfig[] = [];
  for (const [entry, at] of list(raw, path, findings, 'directory')) {
    const source = entry.local;
    if (source.startsWith('/') ? forbiddenSource(source) : !DIRECTORY_NAME.test(source)) {
      findings.error(at, source.startsWith('/')
        ? `mounting ${source} is refused by Berth's guardrails: it would give the container the host`
        : `${source.slice(0, 100)} should be a name (letters, digits, ., _, -: a directory the agent keeps for the accessory) or an absolute host path`);
      continue;
    }
    const ignored = [entry.options !== undefined ? `options ${entry.options}` : '', entry.mode ? 'mode' : '', entry.owner ? 'owner' : ''].filter(Boolean);
    if (ignored.length > 0) findings.warn(at, `${ignored.join(', ')}: not in force: the agent creates the directory with its own defaults`);
    out.push({ source, target: entry.remote });
  }
  return out;
}
