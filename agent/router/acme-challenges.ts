// HTTP-01 answers: the agent puts a token's key authorization here over the
// control socket while an ACME server validates, and the router answers
// GET /.well-known/acme-challenge/<token> on plain HTTP for the host it was
// put for, routed or not, before any route lookup. Memory only: tokens live
// minutes and are public by design (RFC 8555 §8.3), so a crashed agent leaves
// nothing behind but entries that expire.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../../shared/errors.js';
import { hasRequestBody } from './headers.js';

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const KEY_AUTHORIZATION = /^[A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{1,128}$/;
const HOST = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;
export const MAX_CHALLENGES = 1000;
export const CHALLENGE_TTL_MS = 10 * 60_000;

interface Challenge {
  host: string;
  keyAuthorization: string;
  expiresAt: number;
}

export class ChallengeAnswers {
  private readonly tokens = new Map<string, Challenge>();

  put(token: string, body: unknown, nowMs = Date.now()): void {
    if (!TOKEN.test(token)) throw new UserError('an ACME token is 1-256 of A-Z a-z 0-9 _ -', undefined, 'invalid_token');
    const b = body as { host?: unknown; key_authorization?: unknown } | null;
    const host = typeof b?.host === 'string' ? b.host.toLowerCase() : '';
    if (!HOST.test(host)) throw new UserError('host must be the host name the challenge is for');
    const keyAuthorization = b?.key_authorization;
    if (typeof keyAuthorization !== 'string' || !KEY_AUTHORIZATION.test(keyAuthorization) || !keyAuthorization.startsWith(`${token}.`)) {
      throw new UserError('key_authorization must be <token>.<account key thumbprint>');
    }
    this.sweep(nowMs);
    if (!this.tokens.has(token) && this.tokens.size >= MAX_CHALLENGES) {
      throw new UserError(`at most ${MAX_CHALLENGES} challenges may be pending`, 'delete finished ones first', 'too_many_challenges');
    }
    this.tokens.set(token, { host, keyAuthorization, expiresAt: nowMs + CHALLENGE_TTL_MS });
  }

  /** The pending answers, for a cluster worker that starts (agent/router/cluster-primary.ts). */
  entries(nowMs = Date.now()): Array<{ token: string; host: string; key_authorization: string; expires_at: number }> {
    this.sweep(nowMs);
    return [...this.tokens].map(([token, c]) => ({ token, host: c.host, key_authorization: c.keyAuthorization, expires_at: c.expiresAt }));
  }

  /** In a cluster worker: an answer the primary checked, with the primary's expiry. */
  adopt(entry: { token: string; host: string; key_authorization: string; expires_at: number }): void {
    this.put(entry.token, { host: entry.host, key_authorization: entry.key_authorization }, entry.expires_at - CHALLENGE_TTL_MS);
  }

  delete(token: string): void {
    this.tokens.delete(token);
  }

  /** The key authorization for `token` asked on `host`, if the agent put one. */
  lookup(token: string, host: string | undefined, nowMs = Date.now()): string | undefined {
    const c = this.tokens.get(token);
    if (!c || c.expiresAt <= nowMs || c.host !== host) return undefined;
    return c.keyAuthorization;
  }

  /** Answers a plain-HTTP request for the challenge path (true), or leaves it alone (false). */
  answer(req: IncomingMessage, res: ServerResponse, path: string, host: string | undefined): boolean {
    if (!path.startsWith(CHALLENGE_PREFIX)) return false;
    const method = req.method ?? 'GET';
    // The request body is never read: close rather than drain it.
    if (hasRequestBody(req.headers)) res.shouldKeepAlive = false;
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    const answer = this.lookup(path.slice(CHALLENGE_PREFIX.length), host);
    if (answer === undefined) send(res, 404, 'no such challenge\n');
    else send(res, 200, answer);
    return true;
  }

  private sweep(nowMs: number): void {
    for (const [token, c] of this.tokens) if (c.expiresAt <= nowMs) this.tokens.delete(token);
  }
}

function send(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
