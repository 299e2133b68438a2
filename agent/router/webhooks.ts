// The reserved /.berth/webhooks/ prefix: on every host the router serves
// (routed, unrouted or in maintenance) such a request goes to the agent's
// webhook socket, never to an app, so registries can deliver to the app's
// public port. Only POST; the body is read under the same 64 KiB cap the
// agent applies, so an oversized delivery never reaches the agent. The path
// carries a credential (the TOKEN): nothing here logs it.

import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { MAX_BODY_BYTES } from '../core/webhooks/payload.js';
import { forwardRequestHeaders } from './headers.js';
import type { RequestTarget } from './request-target.js';

export const WEBHOOK_PREFIX = '/.berth/webhooks/';
/** The agent answers before doing any work; this long without a byte means it is stuck. */
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
  // The body is read whole (at most 64 KiB) before the agent is asked: an
  // oversized one never reaches it, and the agent, which may answer a refusal
  // without reading a body, is never cut off mid-write.
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    if (refused) return;
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      refused = true;
      res.shouldKeepAlive = false;
      sendJson(res, 413, 'payload_too_large', `a webhook body is at most ${MAX_BODY_BYTES} bytes`);
      return;
    }
    chunks.push(chunk);
  });
  req.once('end', () => {
    if (!refused) ask(deps, req, res, target, Buffer.concat(chunks));
  });
  req.once('error', () => res.destroy());
}

function ask(deps: { socketPath: string; log: (target: string, message: string) => void }, req: IncomingMessage, res: ServerResponse, target: RequestTarget, body: Buffer): void {
  // X-Forwarded-* are the router's own: the agent keys nothing on what a sender claims.
  const headers = forwardRequestHeaders(req.headers, {
    clientIp: req.socket.remoteAddress, proto: 'http', nowMs: Date.now(), newRequestId: () => '', trustForwarded: false,
  });
  delete headers['x-request-id'];
  headers['content-length'] = String(body.byteLength);
  const upstream = httpRequest({ socketPath: deps.socketPath, method: 'POST', path: target.forward, headers, agent: false, timeout: AGENT_ANSWER_TIMEOUT_MS });
  let done = false;
  const fail = (status: 503 | 504, code: string, message: string): void => {
    if (done) return;
    done = true;
    upstream.destroy();
    sendJson(res, status, code, message);
  };
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.once('timeout', () => fail(504, 'agent_timeout', 'the agent did not answer in time'));
  upstream.once('response', (upRes) => {
    if (done) return void upRes.destroy();
    done = true;
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
    deps.log('webhooks', `error: the agent's webhook socket failed: ${err.code ?? err.message}`);
    fail(503, 'agent_unavailable', 'the agent is not taking webhook deliveries right now; retry later');
  });
  upstream.end(body);
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
