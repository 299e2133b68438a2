// PURE: the heads of a relayed WebSocket upgrade. The upgrade's own hop-by-hop
// pair (Connection: Upgrade, Upgrade: websocket) is kept on both legs, every
// other hop-by-hop field is dropped as on ordinary requests, and the router's
// answers on a raw socket are framed here.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { forwardRequestHeaders, type ForwardInfo } from './headers.js';

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** True for `Upgrade: websocket` on a GET: the only upgrade the router relays (see docs/router.md). */
export function isWebSocketUpgrade(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  return method === 'GET' && (headers.upgrade ?? '').trim().toLowerCase() === 'websocket';
}

/** The request head sent to the target: as an ordinary forwarded request, plus the upgrade pair. */
export function upgradeRequestHeaders(incoming: IncomingHttpHeaders, info: ForwardInfo): OutgoingHttpHeaders {
  const out = forwardRequestHeaders(incoming, info);
  out['connection'] = 'Upgrade';
  out['upgrade'] = 'websocket';
  return out;
}

/**
 * The target's response head for the client, from its raw header pairs (order
 * and case kept). `upgrade` keeps the upgrade pair of a 101; `close` marks any
 * other answer as the connection's last and drops its framing when the body is
 * relayed as it is read (close-delimited).
 */
export function relayedResponseHead(
  status: number,
  message: string | undefined,
  rawHeaders: readonly string[],
  mode: 'upgrade' | 'close',
): string {
  const named = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const t of rawHeaders[i + 1]!.split(',')) named.add(t.trim().toLowerCase());
    }
  }
  named.delete('upgrade');
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    // The body is relayed decoded, so only the target's length still frames it.
    head += `${name}: ${rawHeaders[i + 1]}\r\n`;
  }
  if (mode === 'upgrade') {
    const upgrade = rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'upgrade');
    head += `Connection: Upgrade\r\nUpgrade: ${upgrade >= 0 ? rawHeaders[upgrade + 1] : 'websocket'}\r\n`;
  } else {
    head += 'Connection: close\r\n';
  }
  return `${head}\r\n`;
}

/** A complete answer of the router's own, written on a socket no HTTP response object owns. */
export function rawAnswer(status: number, headers: Record<string, string>, body: string, withBody: boolean): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return withBody ? head + body : head;
}
