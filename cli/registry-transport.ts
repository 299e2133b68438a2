// The CLI's registry transport: node:http(s), which the agent client has loaded
// already, where fetch would load undici. The rules (redirects, deadline, body
// cap) are in shared/registry/exchange.ts; this only moves bytes.
import http from 'node:http';
import https from 'node:https';
import type { Send } from '../shared/registry/exchange.js';

export const send: Send = ({ method, url, headers, signal }) =>
  new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, signal, agent: false });
    req.on('error', reject);
    req.once('response', (res) => resolve({ status: res.statusCode ?? 0, header: (name) => headerValue(res.headers[name.toLowerCase()]), body: res }));
    req.end();
  });

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
