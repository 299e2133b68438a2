// The one place CLI output is written. Everything else renders strings.

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Printer {
  /** Results: stdout, one trailing newline ensured. */
  out(text: string): void;
  /** Progress, notes and errors: stderr. */
  err(text: string): void;
  /** A raw write to stdout (terminal progress redraws, a command's output). */
  outRaw(text: string): void;
  /** A raw write to stderr (a remote command's stderr); optional so printers made for tests need not have it. */
  errRaw?(text: string): void;
  /** One NDJSON line on stdout. */
  json(value: unknown): void;
  readonly columns: number;
}

const withNewline = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

export function createPrinter(stdout: OutputStream, stderr: OutputStream): Printer {
  return {
    out: (text) => void stdout.write(withNewline(text)),
    err: (text) => void stderr.write(withNewline(text)),
    outRaw: (text) => void stdout.write(text),
    errRaw: (text) => void stderr.write(text),
    json: (value) => void stdout.write(JSON.stringify(value) + '\n'),
    get columns() {
      return stdout.columns && stdout.columns > 20 ? stdout.columns : 100;
    },
  };
}
