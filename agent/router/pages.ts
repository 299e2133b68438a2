// The router's own error pages. The detail may hold a client-sent host name,
// so it is escaped and bounded.

import { escapeHtml } from '../../shared/error-pages.js';

const TITLES: Record<ErrorPageStatus, string> = {
  400: 'Bad Request',
  413: 'Content Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export type ErrorPageStatus = 400 | 413 | 500 | 501 | 502 | 503 | 504;

export function renderErrorPage(status: ErrorPageStatus, detail: string): string {
  const title = `${status} ${TITLES[status]}`;
  const text = escapeHtml(detail.length > 300 ? `${detail.slice(0, 300)}…` : detail);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{color:#555}</style>
</head>
<body><h1>${title}</h1><p>${text}</p><hr><p><small>berth router</small></p></body>
</html>
`;
}

/** The maintenance notice; the message is the operator's, validated but still escaped. */
export function renderMaintenancePage(message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Down for maintenance</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{color:#555}</style>
</head>
<body><h1>Down for maintenance</h1><p>${escapeHtml(message)}</p></body>
</html>
`;
}

/**
 * Whether the client asked for HTML by name (browsers do). `*\/*` alone (curl,
 * fetch, health probes) gets plain text, which reads better in a terminal or a log.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept
    .slice(0, 2000)
    .split(',')
    .some((part) => {
      const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
      if (type !== 'text/html' && type !== 'application/xhtml+xml') return false;
      const q = params.find((p) => p.startsWith('q='));
      return q === undefined || Number(q.slice(2)) > 0;
    });
}
