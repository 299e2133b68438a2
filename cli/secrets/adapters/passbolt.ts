// `kamal secrets fetch --adapter passbolt`: `passbolt verify`, then the
// folders named in the secrets' paths (`passbolt list folders --filter …`,
// level by level), then one `passbolt list resources` filtered by name and
// folder. Keys are the bare resource names. The filter text is built exactly as
// Kamal builds it (each name shell-escaped, then Ruby-inspected), since
// passbolt receives it literally.

import { rubyShellEscape } from '../shellwords.js';
import { exited, fail, isRecord, parseJson, prefixed, rubySplit, unexpected, type Fetched, type SecretsAdapter, type Vendor } from './base.js';

interface Folder {
  id: string;
  name: string;
  parent: string;
}

const CONTROL: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\f': '\\f', '\v': '\\v', '\b': '\\b', '\u0007': '\\a', '\u001b': '\\e' };

/** Ruby's `String#inspect` for the text shellescape leaves (quotes, backslashes, control characters). */
function rubyInspect(text: string): string {
  const body = text.replace(/[\\"\u0000-\u001f\u007f]|#(?=[{$@])/g, (c) => {
    if (c === '\\' || c === '"' || c === '#') return `\\${c}`;
    if (CONTROL[c]) return CONTROL[c];
    return c === '\u007f' ? '\\x7F' : `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  });
  return `"${body}"`;
}

const quoted = (text: string) => rubyInspect(rubyShellEscape(text));

function folders(vendor: Vendor, json: unknown): Folder[] {
  if (!Array.isArray(json)) unexpected(vendor, 'passbolt list folders');
  return json.map((f) => {
    if (!isRecord(f) || typeof f.name !== 'string') unexpected(vendor, 'passbolt list folders');
    return { id: String(f.id ?? ''), name: f.name, parent: String(f.folder_parent_id ?? '') };
  });
}

/** A folder's path by its parents, as far as they are among `all`. */
function folderPath(folder: Folder, all: readonly Folder[]): string {
  const path = [folder.name];
  const seen = new Set([folder]);
  for (let f = folder; f.parent !== ''; ) {
    const parent = all.find((p) => p.id === f.parent);
    if (!parent || seen.has(parent)) break;
    seen.add(parent);
    path.unshift(parent.name);
    f = parent;
  }
  return path.join('/');
}

async function listFolders(vendor: Vendor, filter: string): Promise<Folder[] | undefined> {
  const run = await vendor.run(['list', 'folders', '--filter', filter, '--json']);
  return run.ok ? folders(vendor, parseJson(vendor, run.stdout, 'passbolt list folders')) : undefined;
}

async function foldersOf(vendor: Vendor, secrets: readonly string[]): Promise<Folder[]> {
  const paths = [...new Map(secrets.filter((s) => s.includes('/')).map((s) => rubySplit(s).slice(0, -1)).map((p) => [p.join('/'), p])).values()];
  if (paths.length === 0) return [];
  const tops = [...new Set(paths.map((p) => p[0] ?? ''))];
  const parents = await listFolders(vendor, tops.map((name) => `Name == ${quoted(name)}`).join(' || '));
  if (!parents) return fail('Could not read folders from Passbolt');
  const all = [...parents];
  for (const path of paths) {
    if (path.length <= 1) continue;
    let current = parents.find((f) => f.name === path[0]);
    if (!current) continue;
    for (const name of path.slice(1)) {
      const nested = await listFolders(vendor, `Name == ${quoted(name)} && FolderParentID == ${quoted(current.id)}`);
      if (!nested) continue;
      if (nested.length === 0) break;
      all.push(...nested);
      current = nested[0] as Folder;
    }
  }
  const found = new Set(all.map((f) => folderPath(f, all)));
  const missing = paths.map((p) => p.join('/')).filter((p) => !found.has(p));
  if (missing.length > 0) fail(`Could not find the following folders in Passbolt: ${missing.join(', ')}`);
  return all;
}

export const passbolt: SecretsAdapter = {
  title: 'Passbolt',
  program: 'passbolt',
  requiresAccount: false,

  async login(vendor) {
    const run = await vendor.run(['verify']);
    if (!run.ok) fail(`Failed to login to Passbolt${exited(vendor, run)}`, 'Berth runs passbolt without a terminal: configure it (passbolt configure) so that `passbolt verify` succeeds on its own');
    return undefined;
  },

  async fetch(vendor, { secrets, from }) {
    const paths = prefixed(secrets, from);
    if (paths.length === 0) fail('No secrets given to fetch');
    const names = paths.map((p) => rubySplit(p).pop() ?? '');
    const all = await foldersOf(vendor, paths);
    const conditions: string[] = [];
    for (const path of paths) {
      const parts = rubySplit(path);
      const name = parts[parts.length - 1] ?? '';
      if (parts.length <= 1) {
        conditions.push(`Name == ${quoted(name)}`);
        continue;
      }
      // The deepest folder of the path that was found.
      let folder: Folder | undefined;
      for (let depth = 1; depth < parts.length; depth++) {
        const prefix = parts.slice(0, depth).join('/');
        folder = all.find((f) => folderPath(f, all) === prefix) ?? folder;
      }
      if (folder) conditions.push(`(Name == ${quoted(name)} && FolderParentID == ${quoted(folder.id)})`);
    }
    const args = ['list', 'resources'];
    if (conditions.length > 0) args.push('--filter', conditions.join(' || '));
    for (const f of all) args.push('--folder', f.id);
    args.push('--column', 'name', '--column', 'password', '--json');
    const run = await vendor.run(args);
    if (!run.ok) fail(`Could not read ${paths.join(', ')} from Passbolt${exited(vendor, run)}`);
    const json = parseJson(vendor, run.stdout, 'passbolt list resources');
    if (!Array.isArray(json)) unexpected(vendor, 'passbolt list resources');
    const results: Fetched = {};
    for (const item of json) {
      if (!isRecord(item) || typeof item.name !== 'string') unexpected(vendor, 'passbolt list resources');
      results[item.name] = item.password ?? null;
    }
    const missing = names.filter((n) => !Object.hasOwn(results, n));
    if (missing.length > 0) fail(`Could not find the following secrets in Passbolt: ${missing.join(', ')}`);
    return results;
  },
};
