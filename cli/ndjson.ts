// Reading an agent's NDJSON answer (logs, exec): one JSON object per line,
// empty lines are keepalives. A line that is not JSON, or longer than the cap,
// means the stream is not what the agent promised; a record `{error}` means
// the agent failed after its answer began, and ends the stream as that error.
import { BerthError, UpstreamError } from '../shared/errors.js';

const MAX_LINE_CHARS = 4 * 1024 * 1024;

export async function* readNdjson(source: AsyncIterable<Buffer | string>, label: string): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  const parse = (line: string): Record<string, unknown> | undefined => {
    if (line.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UpstreamError(`${label} sent a line that is not JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UpstreamError(`${label} sent a record that is not an object`);
    const failed = streamError(value as Record<string, unknown>);
    if (failed) throw new BerthError(failed.code, 502, `${label}: ${failed.message}`, failed.hint);
    return value as Record<string, unknown>;
  };
  try {
    for await (const chunk of source) {
      buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const record = parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (record) yield record;
      }
      if (buffer.length > MAX_LINE_CHARS) throw new UpstreamError(`${label} sent a line longer than ${MAX_LINE_CHARS} characters`);
    }
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new UpstreamError(`the stream from ${label} was cut off`, undefined, 'unreachable');
  }
  const last = parse(buffer + decoder.decode());
  if (last) yield last;
}

/** A record `{error: {code, message, hint?}}`: the agent failed after the answer began. */
function streamError(record: Record<string, unknown>): { code: string; message: string; hint?: string } | undefined {
  const e = record.error as { code?: unknown; message?: unknown; hint?: unknown } | undefined;
  if (!e || typeof e !== 'object') return undefined;
  return {
    code: typeof e.code === 'string' ? e.code : 'upstream_failed',
    message: typeof e.message === 'string' ? e.message : 'failed',
    hint: typeof e.hint === 'string' ? e.hint : undefined,
  };
}
