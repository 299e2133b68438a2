// The control server: JSON over HTTP on a unix socket, used by the local agent
// only (the socket is 0600). The router renders its own error bodies here, in
// the API's `{ error: { code, message } }` shape, because it is its own process.

import { createConnection } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, lstat, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError, isBerthError, PayloadTooLargeError, UserError } from '../../shared/errors.js';
import { tlsEndpoint, type TlsControl } from './control-tls.js';
import { parseRouteSet } from './table.js';
import type { RouteSet, RouterHealth, TargetStats } from './types.js';

export const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

export interface ControlDeps {
  routeSet(): RouteSet;
  /** Makes `set` live and durable; resolves with its version. Throws ConflictError when stale. */
  apply(set: RouteSet): Promise<number>;
  /** Async in a cluster primary, which asks every worker. */
  targets(): Record<string, TargetStats> | Promise<Record<string, TargetStats>>;
  log(message: string): void;
  /** Challenge answers and certificates (agent/router/control-tls.ts). */
  tls?: TlsControl;
  /** The app's error pages (agent/router/error-pages.ts); a primary's put also reaches every worker. */
  errorPages?: { list(): string[]; put(hash: string, body: unknown): Promise<void> };
}

export function createControlServer(deps: ControlDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((e: unknown) => sendError(res, e, deps));
  });
}

async function handle(deps: ControlDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  switch (path) {
    case '/health':
      allow(method, ['GET']);
      return sendJson(res, 200, { ok: true, version: deps.routeSet().version, pid: process.pid } satisfies RouterHealth);
    case '/targets':
      allow(method, ['GET']);
      return sendJson(res, 200, { targets: await deps.targets() });
    case '/routes':
      allow(method, ['GET', 'PUT']);
      if (method === 'GET') return sendJson(res, 200, deps.routeSet());
      return sendJson(res, 200, { version: await deps.apply(parseRouteSet(parseJson(await readBody(req)))) });
    case '/error-pages':
      allow(method, ['GET']);
      return sendJson(res, 200, { pages: deps.errorPages?.list() ?? [] });
    default: {
      const page = deps.errorPages && /^\/error-pages\/([^/]*)$/.exec(path ?? '');
      if (page) {
        allow(method, ['PUT']);
        await deps.errorPages!.put(page[1]!, parseJson(await readBody(req)));
        res.writeHead(204).end();
        return;
      }
      const answer = deps.tls && (await tlsEndpoint(deps.tls, method, path ?? '', allow, async () => parseJson(await readBody(req))));
      if (answer?.status === 204) {
        res.writeHead(204).end();
        return;
      }
      if (answer) return sendJson(res, answer.status, answer.body);
    }
      throw new ControlError(404, 'not_found', `no such control endpoint: ${method} ${path?.slice(0, 100)}`);
  }
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) throw new ControlError(405, 'method_not_allowed', `use ${methods.join(' or ')}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError('body is not valid JSON', undefined, 'invalid_json');
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_CONTROL_BODY_BYTES) {
    return Promise.reject(new PayloadTooLargeError(`body is larger than ${MAX_CONTROL_BODY_BYTES} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_CONTROL_BODY_BYTES) {
        req.removeAllListeners('data');
        req.pause();
        reject(new PayloadTooLargeError(`body is larger than ${MAX_CONTROL_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, e: unknown, deps: ControlDeps): void {
  if (e instanceof ControlError) return sendJson(res, e.status, { error: { code: e.code, message: e.message } });
  if (isBerthError(e)) return sendJson(res, e.status, e.toBody());
  deps.log(`control request failed: ${(e as Error).message}`);
  sendJson(res, 500, { error: { code: 'internal', message: (e as Error).message } });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  // An unread oversized body would otherwise keep the connection busy.
  if (status === 413) res.shouldKeepAlive = false;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Listens on `socketPath`: the parent directory is created (0755), a stale socket
 * left by a dead router is removed, and the socket is 0600 before it appears
 * under its name (bound under a temporary name, then renamed).
 */
export async function listenOnSocket(server: Server, socketPath: string, owner = 'router'): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o755 });
  await removeStaleSocket(socketPath, owner);
  const temp = `${socketPath}.${process.pid}.tmp`;
  await unlink(temp).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(temp, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(temp, 0o600);
  await rename(temp, socketPath);
}

async function removeStaleSocket(socketPath: string, owner: string): Promise<void> {
  const stat = await lstat(socketPath).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) {
    throw new ConfigError(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await socketAnswers(socketPath)) {
    throw new ConfigError(`another ${owner} is already listening on ${socketPath}`);
  }
  await unlink(socketPath);
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
