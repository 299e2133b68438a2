// The reserved /.berth/webhooks/ prefix: on every host the router serves
// (routed, unrouted or in maintenance) such a request goes to the agent's
// webhook socket, never to an app, so registries can deliver to the app's
// public port. Only POST; the body is streamed under the same 64 KiB cap the
// agent applies, so an oversized delivery never reaches the agent. The path
// carries a credential (the TOKEN): nothing here logs it.

import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { MAX_BODY_BYTES } from '../core/webhooks/payload.js';
import { forwardRequestHeaders } from './headers.js';
import type { RequestTarget } from './request-target.js';

export const WEBHOOK_PREFIX = '/.berth/webhooks/';
/** The agent answers before doing any work; a slower answer means it is stuck. */
const AGENT_ANSWER_TIMEOUT_MS = 10_000;

export function isWebhookPath(path: string): boolean {
  return path.startsWith(WEBHOOK_PREFIX);
}

export function forwardWebhook(
  deps: { socketPath: string; log: (target: string, message: string) => void },
  req: IncomingMessage,
  res: ServerResponse,
  target: RequestTarget,
): void {
  if (req.method !== 'POST') {
    res.shouldKeepAlive = false;
    sendJson(res, 405, 'method_not_allowed', 'webhooks are delivered with POST', { allow: 'POST' });
    return;
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && (!/^\d{1,15}$/.test(declared) || Number(declared) > MAX_BODY_BYTES)) {
    res.shouldKeepAlive = false;
    sendJson(res, 413, 'payload_too_large', `a webhook body is at most ${MAX_BODY_BYTES} bytes`);
    return;
  }
  // X-Forwarded-* are the router's own: the agent keys nothing on what a sender claims.
  const headers = forwardRequestHeaders(req.headers, {
    clientIp: req.socket.remoteAddress, proto: 'http', nowMs: Date.now(), newRequestId: () => '', trustForwarded: false,
  });
  delete headers['x-request-id'];
  const upstream = httpRequest({ socketPath: deps.socketPath, method: 'POST', path: target.forward, headers, agent: false });
  const timer = setTimeout(() => upstream.destroy(new Error('timeout')), AGENT_ANSWER_TIMEOUT_MS);
  let done = false;
  const finish = (status: 413 | 503 | 504, code: string, message: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    upstream.destroy();
    res.shouldKeepAlive = false;
    sendJson(res, status, code, message);
  };
  res.once('close', () => {
    clearTimeout(timer);
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.once('response', (upRes) => {
    if (done) return upRes.destroy();
    done = true;
    clearTimeout(timer);
    res.writeHead(upRes.statusCode ?? 502, {
      'content-type': upRes.headers['content-type'] ?? 'application/json',
      'cache-control': 'no-store',
      ...(upRes.headers.allow ? { allow: upRes.headers.allow } : {}),
    });
    upRes.on('error', () => res.destroy());
    upRes.pipe(res);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (done) return;
    if (err.message === 'timeout') return finish(504, 'timeout', 'the agent did not answer in time');
    deps.log('webhooks', `error: the agent's webhook socket failed: ${err.code ?? err.message}`);
    finish(503, 'unavailable', 'the agent is not taking webhook deliveries right now; retry later');
  });
  let size = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        req.unpipe(cap);
        finish(413, 'payload_too_large', `a webhook body is at most ${MAX_BODY_BYTES} bytes`);
        callback();
        return;
      }
      callback(null, chunk);
    },
  });
  req.on('error', () => upstream.destroy());
  req.pipe(cap).pipe(upstream);
}

function sendJson(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}
