// The agent's side of the router control protocol: JSON over HTTP on the
// router's unix socket. Failures become typed errors; a stale version is a
// ConflictError with code `stale_version`.

import { request } from 'node:http';
import { ConflictError, UpstreamError, UserError } from '../../shared/errors.js';
import type { RouterHealth, RouteSet, TargetStats } from './types.js';

export interface RouterClient {
  getRoutes(): Promise<RouteSet>;
  /** Resolves once the set is live and snapshotted. */
  putRoutes(set: RouteSet): Promise<{ version: number }>;
  targets(): Promise<Record<string, TargetStats>>;
  health(): Promise<RouterHealth>;
  /** HTTP-01: the router answers /.well-known/acme-challenge/<token> on `host` with the key authorization. */
  putChallenge(token: string, host: string, keyAuthorization: string): Promise<void>;
  deleteChallenge(token: string): Promise<void>;
  /** Resolves once the certificate is checked, snapshotted and served. */
  putCertificate(id: string, body: { hosts: string[]; cert_pem: string; key_pem: string }): Promise<RouterCertificate>;
  deleteCertificate(id: string): Promise<void>;
  listCertificates(): Promise<RouterCertificate[]>;
  /** Hashes of the error pages the router holds. */
  listErrorPages(): Promise<string[]>;
  /** Resolves once the page is checked, snapshotted and known to every worker. */
  putErrorPage(hash: string, html: string): Promise<void>;
}

/** What the router says of a certificate it serves (never the key). */
export interface RouterCertificate {
  id: string;
  hosts: string[];
  not_after: string;
  sha256: string;
}

export interface RouterClientOptions {
  timeoutMs?: number;
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export function createRouterClient(socketPath: string, options: RouterClientOptions = {}): RouterClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const call = (method: string, path: string, body?: unknown): Promise<unknown> =>
    callSocket(socketPath, method, path, body, timeoutMs);
  return {
    getRoutes: async () => expectRouteSet(await call('GET', '/routes')),
    putRoutes: async (set) => {
      const answer = (await call('PUT', '/routes', set)) as { version?: unknown };
      if (typeof answer?.version !== 'number') throw new UpstreamError('router answered PUT /routes without a version');
      return { version: answer.version };
    },
    targets: async () => {
      const answer = (await call('GET', '/targets')) as { targets?: unknown };
      if (typeof answer?.targets !== 'object' || answer.targets === null) {
        throw new UpstreamError('router answered GET /targets without targets');
      }
      return answer.targets as Record<string, TargetStats>;
    },
    health: async () => (await call('GET', '/health')) as RouterHealth,
    putChallenge: async (token, host, keyAuthorization) => {
      await call('PUT', `/acme-challenges/${encodeURIComponent(token)}`, { host, key_authorization: keyAuthorization });
    },
    deleteChallenge: async (token) => {
      await call('DELETE', `/acme-challenges/${encodeURIComponent(token)}`);
    },
    putCertificate: async (id, body) => (await call('PUT', `/certificates/${encodeURIComponent(id)}`, body)) as RouterCertificate,
    deleteCertificate: async (id) => {
      await call('DELETE', `/certificates/${encodeURIComponent(id)}`);
    },
    listErrorPages: async () => {
      const answer = (await call('GET', '/error-pages')) as { pages?: unknown };
      if (!Array.isArray(answer?.pages)) throw new UpstreamError('router answered GET /error-pages without a list');
      return answer.pages.filter((p): p is string => typeof p === 'string');
    },
    putErrorPage: async (hash, html) => {
      await call('PUT', `/error-pages/${encodeURIComponent(hash)}`, { html });
    },
    listCertificates: async () => {
      const answer = (await call('GET', '/certificates')) as { certificates?: unknown };
      if (!Array.isArray(answer?.certificates)) throw new UpstreamError('router answered GET /certificates without a list');
      return answer.certificates as RouterCertificate[];
    },
  };
}

function expectRouteSet(data: unknown): RouteSet {
  const set = data as RouteSet;
  if (typeof set?.version !== 'number' || !Array.isArray(set.routes)) {
    throw new UpstreamError('router answered GET /routes with something that is not a route set');
  }
  return set;
}

function callSocket(socketPath: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        agent: false,
        headers: {
          host: 'router',
          accept: 'application/json',
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new UpstreamError(`router answer to ${method} ${path} is too large`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (e) => reject(unreachable(socketPath, e)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 204) return resolve(undefined);
          let data: unknown;
          try {
            data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new UpstreamError(`router answered ${method} ${path} with HTTP ${status} and no JSON`));
            return;
          }
          if (status >= 200 && status < 300) resolve(data);
          else reject(errorFromRouter(method, path, status, data));
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new UpstreamError(`router did not answer ${method} ${path} within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof UpstreamError ? e : unreachable(socketPath, e)));
    req.end(payload);
  });
}

function errorFromRouter(method: string, path: string, status: number, data: unknown): Error {
  const err = (data as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof err?.code === 'string' ? err.code : 'router_error';
  const message = `router refused ${method} ${path}: ${typeof err?.message === 'string' ? err.message : `HTTP ${status}`}`;
  if (status === 409) return new ConflictError(message, undefined, code);
  if (status === 400 || status === 413) return new UserError(message, undefined, code);
  return new UpstreamError(message, undefined, code);
}

function unreachable(socketPath: string, e: Error): UpstreamError {
  const code = (e as NodeJS.ErrnoException).code;
  return new UpstreamError(
    `router not reachable at ${socketPath}: ${code ?? e.message}`,
    'is berth-router running? (systemctl status berth-router)',
    'router_unreachable',
  );
}
