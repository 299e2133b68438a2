// The operator key file: an Ed25519 private JWK (mode 0600, directory 0700)
// plus `<file>.pub` holding the public key line with its comment, like SSH.

import { lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { JWK } from '../shared/api-types.js';
import { UserError } from '../shared/errors.js';
import { isBase64Url32 } from '../shared/jose.js';
import { generateOperatorKey, keyLine, parseKeyLine, thumbprint } from '../shared/keys.js';
import type { CliEnv } from './env.js';

const MAX_KEY_FILE_BYTES = 16 * 1024;

export interface OperatorKeyFile {
  path: string;
  privateJwk: JWK;
  publicJwk: JWK;
  kid: string;
  line: string;
}

export function defaultKeyPath(env: CliEnv): string {
  const configHome = env.xdgConfigHome ?? join(env.home, '.config');
  return join(configHome, 'berth', 'key.jwk');
}

/** --key, else $BERTH_KEY, else the default under the config home. */
export function resolveKeyPath(env: CliEnv, flag: string | undefined): string {
  return resolve(env.cwd, flag ?? env.berthKey ?? defaultKeyPath(env));
}

export function defaultKeyComment(): string {
  try {
    const comment = `${userInfo().username}@${hostname()}`;
    return /^[\x21-\x7e]{1,200}$/.test(comment) ? comment : '';
  } catch {
    return '';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Written under a temporary name with its final mode, then renamed: never a half-written or briefly readable key. */
async function writePrivately(path: string, text: string, mode: number, overwrite: boolean): Promise<void> {
  if (!overwrite) {
    const handle = await open(path, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return;
  }
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export async function createKeyFile(path: string, comment: string, force: boolean): Promise<OperatorKeyFile> {
  if (!force && (await exists(path))) {
    throw new UserError(`a key already exists at ${path}; not overwriting it`, 'use `deploy keys show` to print its public key, or `deploy keys new --force` to replace it (agents that trust the old key will refuse the new one)', 'key_exists');
  }
  const key = await generateOperatorKey(comment);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writePrivately(path, JSON.stringify(key.privateJwk) + '\n', 0o600, force);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UserError(`a key already exists at ${path}; not overwriting it`, 'use `deploy keys new --force` to replace it', 'key_exists');
    }
    throw err;
  }
  await writePrivately(`${path}.pub`, key.line + '\n', 0o644, true);
  return { path, privateJwk: key.privateJwk, publicJwk: key.publicJwk, kid: key.kid, line: key.line };
}

export async function readKeyFile(path: string): Promise<OperatorKeyFile> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    throw new UserError(`no operator key at ${path}`, 'create one with `deploy keys new` (or point --key / BERTH_KEY at yours)', 'key_missing');
  }
  if (!info.isFile()) throw new UserError(`${path} is not a regular file`);
  if (info.size > MAX_KEY_FILE_BYTES) throw new UserError(`${path} is too large to be a key file`);
  // Like ssh: a private key others can read is not used.
  if ((info.mode & 0o077) !== 0) {
    throw new UserError(`key file ${path} is accessible by other users (mode ${(info.mode & 0o777).toString(8)})`, `run: chmod 600 ${path}`, 'key_unprotected');
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch {
    throw new UserError(`${path} is not a JSON key file`);
  }
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !isBase64Url32(jwk.x) || !isBase64Url32(jwk.d)) {
    throw new UserError(`${path} is not an Ed25519 private key (JWK with kty OKP, crv Ed25519, x and d)`);
  }
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  const kid = await thumbprint(publicJwk);
  if (jwk.kid !== undefined && jwk.kid !== kid) throw new UserError(`${path}: kid does not match the key`);
  const privateJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d, kid };
  return { path, privateJwk, publicJwk, kid, line: await publicLine(path, publicJwk, kid) };
}

/** The line from `<file>.pub` when it belongs to this key (it has the comment), else one without comment. */
async function publicLine(path: string, publicJwk: JWK, kid: string): Promise<string> {
  try {
    const text = (await readFile(`${path}.pub`, 'utf8')).slice(0, 1024).trim();
    if ((await parseKeyLine(text)).kid === kid) return text;
  } catch {
    // Missing or foreign .pub: fall through to a line without comment.
  }
  return keyLine(publicJwk, '');
}
