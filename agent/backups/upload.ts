// An uploaded backup (the compressed plaintext of an encrypted backup, which
// the CLI decrypted): streamed to a 0600 temp file beside the record's file
// (named as the start-up sweep of temp files knows them),
// hashed as it comes, at most the record's size. The caller checks the
// hashes (the request token's bh, the record's plain_sha256) before it uses
// the file, and removes it in every case.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PayloadTooLargeError } from '../../shared/errors.js';
import { uploadTempName } from '../core/backups/naming.js';

export interface Upload {
  path: string;
  size: number;
  /** Hex SHA-256 (compared with the record). */
  sha256: string;
  /** base64url SHA-256 (compared with the request token's bh). */
  bodyHash: string;
  remove(): Promise<void>;
}

export async function receiveUpload(body: ReadableStream<Uint8Array> | null, beside: string, id: number, maxBytes: number): Promise<Upload> {
  const path = uploadTempName(dirname(beside), id, randomBytes(6).toString('hex'));
  const remove = () => rm(path, { force: true });
  const hash = createHash('sha256');
  let size = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new PayloadTooLargeError(`the upload is larger than the backup (${maxBytes} bytes)`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    const source = body ? Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]);
    await pipeline(source, counted, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await remove();
    throw err;
  }
  const digest = hash.digest();
  return { path, size, sha256: digest.toString('hex'), bodyHash: digest.toString('base64url'), remove };
}
