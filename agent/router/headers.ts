// Header rewriting between client and target. Pure: the caller passes in the
// client address, the clock and the id source.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies still see.
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** An incoming X-Request-Id the router keeps; any other is replaced. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:@=+\/-]{1,128}$/;

// What a client claims about where it came from. Apps take the client's
// address and scheme from these, so only a proxy the service trusts may set them.
const FORWARDING = /^(?:forwarded|x-forwarded-.+|x-real-ip)$/;

export interface ForwardInfo {
  clientIp: string | undefined;
  proto: 'http' | 'https';
  nowMs: number;
  newRequestId: () => string;
  /**
   * The route's forward_headers: a proxy in front of the router sets these
   * headers, so the incoming ones are kept (the socket address appended to
   * X-Forwarded-For). Otherwise they are all replaced by what the router saw.
   */
  trustForwarded: boolean;
}

export function forwardRequestHeaders(incoming: IncomingHttpHeaders, info: ForwardInfo): OutgoingHttpHeaders {
  const out = withoutHopByHop(incoming);
  // The router already answered any `Expect: 100-continue` itself.
  delete out['expect'];
  const trusted = info.trustForwarded;
  if (!trusted) {
    // Every forwarding name starts with f or x: most names skip the regex.
    for (const name of Object.keys(out)) {
      const c = name.charCodeAt(0);
      if ((c === 0x66 || c === 0x78) && FORWARDING.test(name)) delete out[name];
    }
  }
  const priorFor = trusted ? headerValue(incoming['x-forwarded-for']) : undefined;
  const clientIp = info.clientIp?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (clientIp) out['x-forwarded-for'] = priorFor ? `${priorFor}, ${clientIp}` : clientIp;
  else if (priorFor) out['x-forwarded-for'] = priorFor;
  const priorProto = trusted ? headerValue(incoming['x-forwarded-proto']) : undefined;
  out['x-forwarded-proto'] = priorProto || info.proto;
  const host = (trusted ? headerValue(incoming['x-forwarded-host']) : undefined) || headerValue(incoming.host);
  if (host) out['x-forwarded-host'] = host;
  else delete out['x-forwarded-host'];
  const requestId = headerValue(incoming['x-request-id']);
  out['x-request-id'] = requestId && SANE_REQUEST_ID.test(requestId) ? requestId : info.newRequestId();
  out['x-request-start'] = `t=${info.nowMs}`;
  return out;
}

/**
 * The target's response head as undici hands it over (name, value, name,
 * value, ...), without hop-by-hop fields, as the flat list `writeHead` takes:
 * names keep their case and repeated fields stay repeated.
 */
export function forwardRawResponseHeaders(raw: readonly Buffer[]): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, value);
  }
  const named = connectionNamed(connection);
  if (named.size === 0) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!named.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** True when the request carries a body (so it cannot be replayed after a failure). */
export function hasRequestBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

const NONE: ReadonlySet<string> = new Set();
const PLAIN_CONNECTION = /^\s*(?:keep-alive|close)\s*$/i;

/** The fields a Connection header names as hop-by-hop besides itself. */
function connectionNamed(connection: string | undefined): ReadonlySet<string> {
  // `Connection: keep-alive` or `close` (nearly every message) names nothing worth a Set.
  if (connection === undefined || PLAIN_CONNECTION.test(connection)) return NONE;
  return new Set(
    connection
      .split(',')
      .map((t) => t.trim().toLowerCase())
      // A client must not be able to strip the Host it is routed by.
      .filter((t) => t.length > 0 && t !== 'host'),
  );
}

function withoutHopByHop(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionNamed(headerValue(incoming.connection));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
