// Kamal's error_pages_path: the app's 4xx/5xx pages, read on the deploying
// machine before any server is contacted. As Kamal, the directory's files named
// like `4??.html` or `5??.html` are taken and everything else in it (assets,
// robots.txt) is left alone; unlike Kamal, each taken file is checked here, so
// a page the router could not serve stops the push instead of the deploy.
import { lstat, open, readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../shared/errors.js';
import {
  ERROR_PAGE_FILE,
  errorPageProblem,
  MAX_ERROR_PAGE_BYTES,
  MAX_ERROR_PAGES,
  MAX_ERROR_PAGES_TOTAL_BYTES,
  type ErrorPages,
} from '../shared/error-pages.js';

// Kamal's glob, {4??.html,5??.html}: such a name that is not a status (`4xx.html`) is refused, not skipped, since Kamal would ship it.
const KAMAL_GLOB = /^[45].{2}\.html$/su;
const HINT = 'error pages are files named after the status they answer, e.g. 502.html, 503.html (at most 16, 64 KiB each, 96 KiB together)';

/** The pages by status, or undefined when the directory holds none; throws ConfigError naming the file at fault. */
export async function readErrorPages(appDir: string, path: string | undefined): Promise<ErrorPages | undefined> {
  if (path === undefined) return undefined;
  const dir = isAbsolute(path) ? path : resolve(appDir, path);
  const where = `error_pages_path: ${path}`;
  const stat = await lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new ConfigError(`${where} is not a directory (relative paths are read from ${appDir})`, HINT);
  const names = (await readdir(dir)).filter((n) => KAMAL_GLOB.test(n)).sort();
  if (names.length === 0) return undefined;
  if (names.length > MAX_ERROR_PAGES) throw new ConfigError(`${where} holds ${names.length} error pages; at most ${MAX_ERROR_PAGES} are sent`, HINT);
  const pages: ErrorPages = {};
  let total = 0;
  for (const name of names) {
    const shown = JSON.stringify(name.slice(0, 100));
    if (!ERROR_PAGE_FILE.test(name)) throw new ConfigError(`${where}: ${shown} is not named after an HTTP status 400-599`, HINT);
    const bytes = await readRegularFile(join(dir, name), `${where}: ${shown}`);
    total += bytes.length;
    if (total > MAX_ERROR_PAGES_TOTAL_BYTES) throw new ConfigError(`${where}: the pages are more than ${MAX_ERROR_PAGES_TOTAL_BYTES} bytes together`, HINT);
    let html: string;
    try {
      html = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ConfigError(`${where}: ${shown} is not UTF-8 text`, HINT);
    }
    const problem = errorPageProblem(html);
    if (problem) throw new ConfigError(`${where}: ${shown} ${problem}`, HINT);
    pages[name.slice(0, 3)] = html;
  }
  return pages;
}

// A symlink is refused rather than followed: the page sent is the file in the directory, nothing it points at.
async function readRegularFile(path: string, what: string): Promise<Buffer> {
  const stat = await lstat(path);
  if (stat.isSymbolicLink()) throw new ConfigError(`${what} is a symbolic link; copy the page into the directory`, HINT);
  if (!stat.isFile()) throw new ConfigError(`${what} is not a regular file`, HINT);
  if (stat.size > MAX_ERROR_PAGE_BYTES) throw new ConfigError(`${what} is ${stat.size} bytes, more than ${MAX_ERROR_PAGE_BYTES}`, HINT);
  const handle = await open(path, 'r');
  try {
    const bytes = await handle.readFile();
    if (bytes.length > MAX_ERROR_PAGE_BYTES) throw new ConfigError(`${what} is more than ${MAX_ERROR_PAGE_BYTES} bytes`, HINT);
    return bytes;
  } finally {
    await handle.close();
  }
}
