// A pass-through that hashes (SHA-256) and counts what flows through it: the
// agent's backup writer and the CLI's download and decrypt steps check the
// same two facts of a stream without reading it twice.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface HashingStream {
  stream: Transform;
  /** The SHA-256 of everything that passed (call once the stream ended). */
  digest: () => Buffer;
  /** Bytes that passed so far. */
  size: () => number;
}

export function hashing(): HashingStream {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  let digest: Buffer | undefined;
  return { stream, digest: () => (digest ??= hash.digest()), size: () => size };
}
