// A tiny structured logger: one line per call on stderr. Field values whose
// names look like credentials are replaced, so a careless call site cannot
// leak a secret into journald.

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const SECRET_NAME = /secret|passw|token|private|credential|auth|(^|_)key$|jwk/i;
const MAX_VALUE_CHARS = 2000;

export function redactFields(fields: LogFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    out[name] = SECRET_NAME.test(name) ? '[redacted]' : renderValue(value);
  }
  return out;
}

function renderValue(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = value.message;
  else if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

export function formatLogLine(level: string, name: string, msg: string, fields: LogFields = {}, at = new Date()): string {
  const parts = [at.toISOString(), level, `[${name}]`, msg];
  for (const [key, value] of Object.entries(redactFields(fields))) {
    parts.push(`${key}=${/[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value}`);
  }
  // One record per line even when a message carries newlines (container logs).
  return parts.join(' ').replace(/\r?\n/g, '\\n');
}

export function createLogger(name: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const emit = (level: string) => (msg: string, fields?: LogFields) => write(formatLogLine(level, name, msg, fields));
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
