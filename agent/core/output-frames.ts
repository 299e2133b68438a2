// PURE: reading what Docker sends for logs, attach and exec. Without a TTY,
// Docker multiplexes stdout and stderr into frames (1 byte stream, 3 zero
// bytes, 4 bytes big-endian length, payload); with a TTY the bytes are raw.
// Chunks arrive split anywhere, so both readers keep state between calls.

export type OutputStreamName = 'stdout' | 'stderr';

export interface OutputChunk {
  stream: OutputStreamName;
  data: Buffer;
}

/** Frames larger than this mean the stream is not what we think it is. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * A demuxer fed with raw chunks. `framing: 'auto'` decides from the first
 * bytes (a container may have been created with a TTY: its logs are raw).
 */
export interface Demuxer {
  push(chunk: Buffer): OutputChunk[];
  /** End of stream: bytes too few to decide on (auto) are raw output; a cut frame is dropped. */
  end(): OutputChunk[];
}

export function createDemuxer(framing: 'framed' | 'raw' | 'auto'): Demuxer {
  let mode: 'framed' | 'raw' | 'auto' = framing;
  let pending: Buffer = Buffer.alloc(0);
  const push = (chunk: Buffer): OutputChunk[] => {
    if (mode === 'raw') return chunk.length ? [{ stream: 'stdout', data: chunk }] : [];
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    if (mode === 'auto') {
      if (pending.length < 8) return [];
      mode = looksFramed(pending) ? 'framed' : 'raw';
      if (mode === 'raw') {
        const all = pending;
        pending = Buffer.alloc(0);
        return [{ stream: 'stdout', data: all }];
      }
    }
    const out: OutputChunk[] = [];
    while (pending.length >= 8) {
      const kind = pending[0];
      const size = pending.readUInt32BE(4);
      if (!looksFramed(pending) || size > MAX_FRAME_BYTES) {
        // Out of step: hand the rest over as it is rather than lose it.
        mode = 'raw';
        out.push({ stream: 'stdout', data: pending });
        pending = Buffer.alloc(0);
        break;
      }
      if (pending.length < 8 + size) break;
      if (size > 0) out.push({ stream: kind === 2 ? 'stderr' : 'stdout', data: pending.subarray(8, 8 + size) });
      pending = pending.subarray(8 + size);
    }
    return out;
  };
  const end = (): OutputChunk[] => {
    const rest = pending;
    pending = Buffer.alloc(0);
    return mode === 'auto' && rest.length ? [{ stream: 'stdout', data: rest }] : [];
  };
  return { push, end };
}

function looksFramed(b: Buffer): boolean {
  return (b[0] === 0 || b[0] === 1 || b[0] === 2) && b[1] === 0 && b[2] === 0 && b[3] === 0;
}

/**
 * Splits a byte stream into lines on \n (a trailing \r is dropped). A line
 * longer than `maxChars` is cut there and the rest starts a new line, so one
 * endless line cannot grow the agent's memory. UTF-8 split across chunks is
 * decoded whole.
 */
export function createLineSplitter(maxChars: number): { push(data: Buffer): string[]; end(): string[] } {
  const decoder = new TextDecoder('utf-8');
  let partial = '';
  const take = (text: string): string[] => {
    partial += text;
    const lines: string[] = [];
    for (;;) {
      const nl = partial.indexOf('\n');
      if (nl === -1 || nl > maxChars) {
        if (partial.length <= maxChars) break;
        lines.push(partial.slice(0, maxChars));
        partial = partial.slice(maxChars);
        continue;
      }
      lines.push(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
    }
    return lines;
  };
  return {
    push: (data) => take(decoder.decode(data, { stream: true })),
    end: () => {
      const lines = take(decoder.decode());
      if (partial.length) lines.push(partial.replace(/\r$/, ''));
      partial = '';
      return lines;
    },
  };
}

const DOCKER_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?/;

/**
 * Docker's `timestamps=1` prefixes each line with RFC 3339 (nanoseconds).
 * Returns the time as ISO (milliseconds) and the line without the prefix; a
 * line without one (a piece of a cut line) gets `fallback`.
 */
export function splitTimestamp(line: string, fallback: string): { t: string; line: string } {
  const m = DOCKER_TIMESTAMP.exec(line);
  if (!m || !m[1]) return { t: fallback, line };
  const ms = Date.parse(m[1].replace(/(\.\d{3})\d+/, '$1'));
  if (!Number.isFinite(ms)) return { t: fallback, line };
  return { t: new Date(ms).toISOString(), line: line.slice(m[0].length) };
}
