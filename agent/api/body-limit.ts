// Reads the request body once, refusing it past the cap BEFORE authentication,
// so an unauthenticated client cannot make the agent buffer or hash megabytes.
import type { MiddlewareHandler } from 'hono';
import { PayloadTooLargeError } from '../../shared/errors.js';
import type { ApiEnv } from './context.js';

export const MAX_BODY_BYTES = 256 * 1024;

export function readBodyWithLimit(maxBytes: number = MAX_BODY_BYTES): MiddlewareHandler<ApiEnv> {
  const tooLarge = () => new PayloadTooLargeError(`request body is larger than ${maxBytes} bytes`);

  return async function bodyLimit(c, next) {
    const declared = c.req.header('content-length');
    if (declared !== undefined && (!/^\d{1,15}$/.test(declared) || Number(declared) > maxBytes)) throw tooLarge();
    const stream = c.req.raw.body;
    if (!stream) {
      c.set('rawBody', new Uint8Array(0));
      return next();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
    c.set('rawBody', Buffer.concat(chunks));
    return next();
  };
}
