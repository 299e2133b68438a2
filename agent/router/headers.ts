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
    for (const name of Object.keys(out)) if (FORWARDING.test(name)) delete out[name];
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

export function forwardResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  return withoutHopByHop(incoming);
}

/** True when the request carries a body (so it cannot be replayed after a failure). */
export function hasRequestBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

function withoutHopByHop(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    (headerValue(incoming.connection) ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      // A client must not be able to strip the Host it is routed by.
      .filter((t) => t.length > 0 && t !== 'host'),
  );
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
