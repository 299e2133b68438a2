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

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@=+\/-]{1,128}$/;

export interface ForwardInfo {
  clientIp: string | undefined;
  proto: 'http' | 'https';
  nowMs: number;
  newRequestId: () => string;
}

export function forwardRequestHeaders(incoming: IncomingHttpHeaders, info: ForwardInfo): OutgoingHttpHeaders {
  const out = withoutHopByHop(incoming);
  // The router already answered any `Expect: 100-continue` itself.
  delete out['expect'];
  const priorFor = headerValue(incoming['x-forwarded-for']);
  const clientIp = info.clientIp?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (clientIp) out['x-forwarded-for'] = priorFor ? `${priorFor}, ${clientIp}` : clientIp;
  else if (priorFor) out['x-forwarded-for'] = priorFor;
  out['x-forwarded-proto'] = info.proto;
  const host = headerValue(incoming.host);
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
