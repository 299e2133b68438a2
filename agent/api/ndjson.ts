// A long NDJSON answer (logs, exec output): one JSON object per line, an
// empty line as keepalive when nothing was sent for a while (clients skip
// empty lines; without them a quiet stream looks dead to idle timeouts), and
// an abort signal for when the client goes away — or stops reading: a write
// that the client has not taken within `stallMs` ends the stream and drops the
// connection, so a reader that pauses cannot hold a stream slot, its Docker
// connections and a socket for ever.
import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { isBerthError, type ErrorBody } from '../../shared/errors.js';
import type { Logger } from '../log.js';

export const KEEPALIVE_MS = 15_000;
/** How long one write may wait for the client to read before the stream is ended. */
export const DEFAULT_STALL_MS = 60_000;

/** Writes one record of the endpoint's type (shared/api-responses.ts). */
export type WriteRecord<R> = (record: R) => Promise<void>;

export function ndjsonResponse<R>(
  c: Context,
  log: Logger,
  run: (write: WriteRecord<R>, signal: AbortSignal) => Promise<void>,
  stallMs = DEFAULT_STALL_MS,
): Response {
  c.header('content-type', 'application/x-ndjson; charset=utf-8');
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');
  return stream(c, async (s) => {
    const controller = new AbortController();
    s.onAbort(() => controller.abort());
    let lastWrite = Date.now();
    const keepalive = setInterval(() => {
      if (Date.now() - lastWrite >= KEEPALIVE_MS && !controller.signal.aborted) {
        lastWrite = Date.now();
        void s.write('\n');
      }
    }, KEEPALIVE_MS / 3);
    const write: WriteRecord<R | ErrorBody> = async (record) => {
      if (controller.signal.aborted) return;
      lastWrite = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), stallMs);
      });
      const taken = s.write(JSON.stringify(record) + '\n').then(() => false);
      try {
        if (await Promise.race([taken, stalled])) {
          log.warn('stream ended: the client stopped reading', { seconds: Math.round(stallMs / 1000) });
          controller.abort();
          dropConnection(c);
        }
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      await run(write, controller.signal);
    } catch (err) {
      // The status line is long gone: the failure becomes the last record.
      const body: ErrorBody = isBerthError(err) ? err.toBody() : { error: { code: 'internal', message: 'internal error; see the agent log' } };
      if (!isBerthError(err)) log.error('stream failed', { err });
      await write(body);
    } finally {
      clearInterval(keepalive);
      controller.abort();
    }
  });
}

/** The client's socket, when served by @hono/node-server (absent under app.request in tests). */
function dropConnection(c: Context): void {
  (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing?.destroy();
}
