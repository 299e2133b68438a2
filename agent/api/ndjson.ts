// A long NDJSON answer (logs, exec output): one JSON object per line, an
// empty line as keepalive when nothing was sent for a while (clients skip
// empty lines; without them a quiet stream looks dead to idle timeouts), and
// an abort signal for when the client goes away.
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { isBerthError } from '../../shared/errors.js';
import type { Logger } from '../log.js';

export const KEEPALIVE_MS = 15_000;

export type WriteRecord = (record: unknown) => Promise<void>;

export function ndjsonResponse(
  c: Context,
  log: Logger,
  run: (write: WriteRecord, signal: AbortSignal) => Promise<void>,
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
    const write: WriteRecord = async (record) => {
      if (controller.signal.aborted) return;
      lastWrite = Date.now();
      await s.write(JSON.stringify(record) + '\n');
    };
    try {
      await run(write, controller.signal);
    } catch (err) {
      // The status line is long gone: the failure becomes the last record.
      const body = isBerthError(err) ? err.toBody() : { error: { code: 'internal', message: 'internal error; see the agent log' } };
      if (!isBerthError(err)) log.error('stream failed', { err });
      await write(body);
    } finally {
      clearInterval(keepalive);
      controller.abort();
    }
  });
}
