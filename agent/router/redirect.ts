// Plain HTTP to HTTPS for routes served with TLS (kamal-proxy's
// redirectToHTTPS): 301 to the same host, path and query on the default HTTPS
// port. Only when the router holds a certificate for the host, so a host whose
// certificate is still missing is never sent into a failing handshake. The
// challenge path and /.berth/webhooks/ are answered before this is asked.

import type { ServerResponse } from 'node:http';
import type { Route } from '../../shared/routes.js';

export function wantsRedirect(route: Route, encrypted: boolean, hasCertificate: (host: string) => boolean, host: string): boolean {
  return !encrypted && route.tls !== undefined && route.tls.redirect && hasCertificate(host);
}

/** `host` as normalizeHost gave it (no port, lower-cased); `forward` the origin-form target. */
export function redirectLocation(host: string, forward: string): string {
  return `https://${host.includes(':') ? `[${host}]` : host}${forward}`;
}

export function sendRedirect(res: ServerResponse, location: string): void {
  // The client moves to another port anyway, and any body is left unread (as kamal-proxy does).
  res.shouldKeepAlive = false;
  res.writeHead(301, { location, 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}
