// The answers the router gives itself instead of the target's: the error
// pages and the maintenance page, each ending the response exactly once.

import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { hasRequestBody } from './headers.js';
import { acceptsHtml, renderErrorPage, renderMaintenancePage, type ErrorPageStatus } from './pages.js';
import { maintenancePageOf, routeErrorPage } from './error-pages.js';

/** What a client in maintenance is told to wait before trying again. */
export const MAINTENANCE_RETRY_AFTER_S = 60;

export function sendMaintenancePage(req: IncomingMessage, res: ServerResponse, message: string): void {
  // The app's own 503 page is HTML whatever the client accepts, as under kamal-proxy.
  const custom = maintenancePageOf(req, message);
  const html = custom !== undefined || acceptsHtml(req.headers.accept);
  const body = custom ?? (html ? renderMaintenancePage(message) : `${message}\n`);
  // The request body is never read: close instead of draining an upload on a kept-alive socket.
  if (hasRequestBody(req.headers)) res.shouldKeepAlive = false;
  res.writeHead(503, {
    'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'retry-after': String(MAINTENANCE_RETRY_AFTER_S),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendErrorPage(res: ServerResponse, status: ErrorPageStatus, detail: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = routeErrorPage(res.req, status) ?? renderErrorPage(status, detail);
  // The reason named: a relayed writeHead that threw left the target's (invalid) one on `res`, and Node would reuse it and throw again.
  res.writeHead(status, STATUS_CODES[status], {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
