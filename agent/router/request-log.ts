// The request log: one JSON line per request the router routes (or finds no
// route for), as kamal-proxy writes one per request. Lines are built only when
// a response closes, with the headers the route's `logging` names; every value
// is bounded and JSON-escaped, so a client cannot forge lines or flood one.
// Lines are written in small batches (every 10 ms or 64 lines), one write each.

import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SANE_REQUEST_ID } from './headers.js';
import type { Route } from './types.js';

/** Credentials: their names are logged, never their values. */
const REDACTED = new Set(['cookie', 'set-cookie', 'authorization', 'proxy-authorization']);
const MAX_PATH = 2048;
const MAX_QUERY = 2048;
const MAX_HEADER_VALUE = 512;
/**
 * Lines are written together at most this late: one write per batch, not per
 * request. Small batches: lines held longer survive the young-generation GC
 * and are promoted, and with 100 ms / 500 lines the log cost 17-20% of the
 * router's keep-alive throughput against 7-13% now (wrk, stdout to /dev/null).
 */
const FLUSH_AFTER_MS = 10;
const FLUSH_LINES = 64;

export interface RequestLog {
  /** Call when the request arrives; the line is written when its response closes. `route()` is read then. */
  track(req: IncomingMessage, res: ServerResponse, route: () => Route | undefined): void;
  /** Writes the lines still waiting (at shutdown). */
  flush(): void;
}

export interface RequestLogOptions {
  /** Takes a batch of lines; false when it could not (its output is backed up): the lines are dropped and counted. */
  write: (chunk: string) => boolean;
  now?: () => number;
  clock?: () => number;
}

interface Compiled {
  request: Array<[key: string, name: string, redact: boolean]>;
  response: Array<[key: string, name: string, redact: boolean]>;
}

export function createRequestLog(options: RequestLogOptions): RequestLog {
  const { write } = options;
  const clock = options.clock ?? (() => performance.now());
  const now = options.now ?? Date.now;
  const compiled = new WeakMap<Route, Compiled>();
  let pending: string[] = [];
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  let lastSecond = NaN;
  let secondPrefix = '';

  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0 && dropped === 0) return;
    const lines = pending;
    pending = [];
    const count = lines.length;
    if (dropped > 0) lines.push(`{"time":${JSON.stringify(new Date(now()).toISOString())},"msg":"request log lines dropped","dropped":${dropped}}\n`);
    if (write(lines.join(''))) dropped = 0;
    else dropped += count;
  };

  // toISOString costs about 1 µs and under load the millisecond changes every
  // few lines: the date and time up to the second are made once a second.
  const isoTime = (): string => {
    const ms = Math.floor(now());
    const second = Math.floor(ms / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const milli = ms - second * 1000;
    return `${secondPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  };

  const headersOf = (route: Route | undefined): Compiled | undefined => {
    if (!route?.logging) return undefined;
    let c = compiled.get(route);
    if (!c) {
      const compile = (names: readonly string[] | undefined, side: string) =>
        (names ?? []).map((n): [string, string, boolean] => {
          const name = n.toLowerCase();
          return [`${side}_${name.replaceAll('-', '_')}`, name, REDACTED.has(name)];
        });
      c = { request: compile(route.logging.request_headers, 'req'), response: compile(route.logging.response_headers, 'resp') };
      compiled.set(route, c);
    }
    return c;
  };

  const record = (req: IncomingMessage, res: ServerResponse, route: Route | undefined, started: number, bytesBefore: number): void => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const headers = headersOf(route);
    let line =
      `{"time":"${isoTime()}","msg":"request","service":${str(route?.service ?? '', 200)}` +
      `,"method":${str(req.method ?? '', 32)},"host":${str(req.headers.host ?? '', 300)},"path":${str(path, MAX_PATH)}` +
      (q >= 0 ? `,"query":${str(url.slice(q + 1), MAX_QUERY)}` : '') +
      `,"status":${res.statusCode},"duration_ms":${Math.round((clock() - started) * 1000) / 1000}` +
      `,"bytes":${req.socket.bytesWritten - bytesBefore},"completed":${res.writableFinished}` +
      `,"client_addr":${str(clientAddress(req.socket.remoteAddress), 64)},"request_id":${str(headerValue(req.headers['x-request-id']), 200)}` +
      `,"user_agent":${str(headerValue(req.headers['user-agent']), MAX_HEADER_VALUE)}`;
    if (headers) {
      for (const [key, name, redact] of headers.request) line += `,"${key}":${redact && req.headers[name] !== undefined ? '"[redacted]"' : str(headerValue(req.headers[name as keyof IncomingHttpHeaders]), MAX_HEADER_VALUE)}`;
      for (const [key, name, redact] of headers.response) {
        const value = sentHeader(res, name);
        line += `,"${key}":${redact && value !== '' ? '"[redacted]"' : str(value, MAX_HEADER_VALUE)}`;
      }
    }
    line += '}\n';
    pending.push(line);
    if (pending.length >= FLUSH_LINES) flush();
    // unref: a pending line never keeps the process alive; stop() flushes.
    else if (!timer) timer = setTimeout(flush, FLUSH_AFTER_MS).unref();
  };

  return {
    flush,
    track(req, res, route) {
      const started = clock();
      // The id the app gets (headers.ts keeps a sane one) is the one logged.
      const id = req.headers['x-request-id'];
      if (typeof id !== 'string' || !SANE_REQUEST_ID.test(id)) req.headers['x-request-id'] = randomUUID();
      const bytesBefore = req.socket.bytesWritten;
      res.once('close', () => record(req, res, route(), started, bytesBefore));
    },
  };
}

/** Characters JSON.stringify would escape (surrogates: it escapes lone ones), so anything else is quoted as it is. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string of at most `max` characters (cut ones end with `…`); JSON escapes control characters. */
function str(value: string, max: number): string {
  // Most values need no escaping: a test is half the cost of JSON.stringify.
  if (value.length <= max && !NEEDS_ESCAPE.test(value)) return `"${value}"`;
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

function headerValue(value: OutgoingHttpHeader | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * A response header as sent (values of repeated ones joined with ", "), read
 * from the head Node wrote: a response relayed with writeHead(status, headers)
 * keeps no header map for getHeader to read.
 */
function sentHeader(res: ServerResponse, name: string): string {
  const head = (res as unknown as { _header?: string | null })._header;
  if (!head) return headerValue(res.getHeader(name));
  const values: string[] = [];
  const lower = head.toLowerCase();
  const needle = `\r\n${name}:`;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + needle.length)) {
    const end = head.indexOf('\r\n', at + needle.length);
    values.push(head.slice(at + needle.length, end < 0 ? undefined : end).trim());
  }
  return values.join(', ');
}

function clientAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
