// A remote command's output from several servers at once (exec, cron run):
// text split into lines per host and stream, each led by `HOST | `, so
// prefixed output never interleaves mid-line.

export interface PrefixedWriter {
  push(stream: string, data: string): void;
  /** Writes what is left of an unfinished last line. */
  end(): void;
}

export function createPrefixedWriter(write: (stream: string, text: string) => void, host: string): PrefixedWriter {
  const partial: Record<string, string> = {};
  return {
    push(stream, data) {
      const text = (partial[stream] ?? '') + data;
      const lines = text.split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) write(stream, `${host} | ${line}\n`);
    },
    end() {
      for (const [stream, rest] of Object.entries(partial)) if (rest) write(stream, `${host} | ${rest}\n`);
    },
  };
}
