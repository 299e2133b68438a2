// Request bodies: an oversized declared length is refused before anything
// else (refuseDeclaredOversize, for every route), and a body is read only by
// requireToken, after the token's signature has verified (readHashedBody), so
// an unauthenticated client cannot make the agent buffer or hash anything.
import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { PayloadTooLargeError } from '../../shared/errors.js';
import type { ApiEnv } from './context.js';

export const MAX_BODY_BYTES = 256 * 1024;

const tooLarge = (maxBytes: number) => new PayloadTooLargeError(`request body is larger than ${maxBytes} bytes`);

/** `exempt`: routes that stream their body and check its length themselves (a backup upload). */
export function refuseDeclaredOversize(maxBytes: number = MAX_BODY_BYTES, exempt?: (method: string, path: string) => boolean): MiddlewareHandler<ApiEnv> {
  return async function declaredLength(c, next) {
    if (exempt?.(c.req.method, c.req.path)) return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined && (!/^\d{1,15}$/.test(declared) || Number(declared) > maxBytes)) throw tooLarge(maxBytes);
    return next();
  };
}

/**
 * Reads the body under the cap, hashing it as it streams: 413 as soon as it
 * passes the cap (a chunked body declares no length). Returns the bytes and
 * their base64url SHA-256 (what the token's bh must be).
 */
export async function readHashedBody(stream: ReadableStream<Uint8Array> | null, maxBytes: number = MAX_BODY_BYTES): Promise<{ body: Uint8Array; hash: string }> {
  const hash = createHash('sha256');
  if (!stream) return { body: new Uint8Array(0), hash: hash.digest('base64url') };
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    hash.update(value);
    chunks.push(value);
  }
  return { body: Buffer.concat(chunks), hash: hash.digest('base64url') };
}
