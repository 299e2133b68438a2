// Which secrets files are read, in which order, and reading them with bounds.
//
// Kamal 2 reads `<path>-common`, then `<path>.<destination>` when a destination
// is given or `<path>` when not (never both), each parsed on its own, later
// values winning. Berth keeps that and adds `.berth/` beside `.kamal/` at each
// level, read after Kamal's so a Berth-only override wins:
//
//   .kamal/secrets-common, .berth/secrets-common,
//   .kamal/secrets[.DEST], .berth/secrets[.DEST]

import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { MAX_SECRETS_FILE_BYTES } from './dotenv.js';

/** Kamal's default `secrets_path`. */
export const KAMAL_SECRETS_PATH = '.kamal/secrets';
export const BERTH_SECRETS_PATH = '.berth/secrets';

// A destination becomes part of a file name; nothing in it may climb out of the directory.
const DESTINATION = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/**
 * The candidate files, lowest precedence first, as paths relative to the app
 * directory (also their labels in messages). `secretsPath` is Kamal's
 * `secrets_path` setting and replaces `.kamal/secrets`.
 */
export function secretsFileCandidates(destination: string | undefined, secretsPath: string = KAMAL_SECRETS_PATH): string[] {
  if (destination !== undefined && destination !== '' && !DESTINATION.test(destination)) {
    throw new ConfigError('destination must be letters, digits, - and _ (it names the secrets file .kamal/secrets.DESTINATION)');
  }
  if (secretsPath === '' || secretsPath.includes('\0')) throw new ConfigError('secrets_path must be a file path');
  const bases = secretsPath === BERTH_SECRETS_PATH ? [secretsPath] : [secretsPath, BERTH_SECRETS_PATH];
  const specific = destination ? `.${destination}` : '';
  return [...bases.map((base) => `${base}-common`), ...bases.map((base) => `${base}${specific}`)];
}

/** The text of a secrets file, or undefined when it does not exist. */
export async function readSecretsFile(appDir: string, label: string): Promise<string | undefined> {
  const path = resolve(appDir, label);
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new ConfigError(`${label} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // A FIFO or device would block or never end; a secrets file is a regular file.
  if (!info.isFile()) throw new ConfigError(`${label} is not a regular file`);
  if (info.size > MAX_SECRETS_FILE_BYTES) throw tooLarge(label);

  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`${label} cannot be read (${err.code ?? 'error'})`);
  });
  try {
    // Read one byte past the cap, so a file that grew since stat is still refused.
    const buffer = Buffer.alloc(MAX_SECRETS_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_SECRETS_FILE_BYTES) throw tooLarge(label);
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new ConfigError(`${label} is not UTF-8 text`);
    }
  } finally {
    await handle.close();
  }
}

function tooLarge(label: string): ConfigError {
  return new ConfigError(`${label} is larger than ${MAX_SECRETS_FILE_BYTES / 1024 / 1024} MiB`, 'a secrets file holds NAME=value lines; keep large data out of it');
}
