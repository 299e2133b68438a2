// Fixtures for router tests: real node:http upstreams that say which version
// they are, an HTTP client that sends any Host header, and the router started
// in-process or as a real child process.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRouterClient } from '../../agent/router/client.js';
import type { RouterConfig } from '../../agent/router/config.js';
import { startRouter, type RunningRouter } from '../../agent/router/main.js';
import type { Route, RouteSet } from '../../agent/router/types.js';
import { AGENT_BIN } from './berth-host.js';

export interface Upstream {
  name: string;
  target: string;
  port: number;
  /** Requests seen, by path (without query). */
  hits: Map<string, number>;
  /** Upload bytes received so far, counted as they arrive. */
  received: () => number;
  /** `/hang` requests whose connection went away. */
  hangsClosed: () => number;
  /** Ends every waiting `/gated` response with `${name}-last`. */
  openGate(): void;
  close(): Promise<void>;
}

/**
 * Answers with its name (`/`), after a delay (`/slow?ms=`), in timed chunks
 * (`/stream?chunks=&gap=`), never (`/hang`), with the request headers (`/headers`),
 * with the size and SHA-256 of an uploaded body (`/upload`), or with a first
 * chunk and then the rest only when the test opens the gate (`/gated`).
 * On `listenPort` when given (an upstream started again where it was).
 */
export async function startUpstream(name: string, listenPort = 0): Promise<Upstream> {
  const hits = new Map<string, number>();
  const gated = new Set<http.ServerResponse>();
  let received = 0;
  let hangsClosed = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const num = (k: string, d: number): number => Number(url.searchParams.get(k) ?? d);
    switch (url.pathname) {
      case '/slow': {
        const timer = setTimeout(() => res.end(name), num('ms', 500));
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case '/stream': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        let left = num('chunks', 3);
        const tick = (): void => {
          res.write(`${name}-chunk-${left}\n`);
          left -= 1;
          if (left <= 0) res.end();
          else timer = setTimeout(tick, num('gap', 300));
        };
        let timer = setTimeout(tick, 0);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case '/hang':
        res.on('close', () => (hangsClosed += 1));
        return;
      case '/gated':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(`${name}-first\n`);
        gated.add(res);
        res.on('close', () => gated.delete(res));
        return;
      case '/headers':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(req.headers));
        return;
      case '/upload': {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          bytes += c.length;
          received += c.length;
          hash.update(c);
        });
        req.on('end', () => res.end(JSON.stringify({ name, bytes, sha256: hash.digest('hex') })));
        return;
      }
      default:
        res.writeHead(200, { 'x-upstream': name, 'content-length': Buffer.byteLength(name) });
        res.end(req.method === 'HEAD' ? undefined : name);
    }
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    target: `127.0.0.1:${port}`,
    hits,
    received: () => received,
    hangsClosed: () => hangsClosed,
    openGate: () => {
      for (const res of gated) res.end(`${name}-last\n`);
      gated.clear();
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  agent?: http.Agent | false;
  onFirstChunk?: (chunk: string) => void;
}

/** One request to `port` on 127.0.0.1 with the given Host header; rejects only on socket errors. */
export function send(port: number, host: string, path: string, opts: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: opts.agent ?? false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body === '') opts.onFirstChunk?.(d);
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

// Kept here too for the router and engine tests that import it from this module.
export { waitFor } from './wait.js';

export function routeSet(version: number, routes: Array<Partial<Route> & Pick<Route, 'target'>>): RouteSet {
  return { version, routes: routes.map((r) => ({ service: 'demo', hosts: ['demo.test'], ...r })) };
}

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'berth-router-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function routerConfig(dir: string, over: Partial<RouterConfig> = {}): RouterConfig {
  return {
    stateDir: dir,
    httpListen: { host: '127.0.0.1', port: 0 },
    socketPath: join(dir, 'run', 'router.sock'),
    snapshotPath: join(dir, 'router', 'routes.json'),
    shutdownTimeoutMs: 5_000,
    ...over,
  };
}

export interface InProcessRouter extends RunningRouter {
  logs: string[];
}

export async function startInProcessRouter(dir: string, over: Partial<RouterConfig> = {}): Promise<InProcessRouter> {
  const logs: string[] = [];
  const router = await startRouter(routerConfig(dir, over), { log: (m) => logs.push(m) });
  return Object.assign(router, { logs });
}

export interface RouterBench {
  dir: Awaited<ReturnType<typeof tempDir>>;
  router: InProcessRouter;
  /** One per name given, in order. */
  upstreams: Upstream[];
  stop(): Promise<void>;
}

/** A temp dir, an in-process router using it, and one upstream per name: the usual setup of a router test file. */
export async function startRouterBench(...names: string[]): Promise<RouterBench> {
  const dir = await tempDir();
  const upstreams = await Promise.all(names.map((n) => startUpstream(n)));
  const router = await startInProcessRouter(dir.path);
  return {
    dir,
    router,
    upstreams,
    async stop() {
      await router.stop();
      await Promise.all(upstreams.map((u) => u.close()));
      await dir.remove();
    },
  };
}


export interface RouterProcess {
  child: ChildProcess;
  port: number;
  httpsPort: number;
  socketPath: string;
  stderr(): string;
  /** The request log (one JSON line per request). */
  stdout(): string;
  exited: Promise<number | null>;
}

/** `berth-agent router` (the bundled binary) on free ports (HTTP and HTTPS); resolves once its control socket answers. */
export async function startRouterProcess(dir: string, port?: number, opts: { httpsPort?: number; extraArgs?: readonly string[] } = {}): Promise<RouterProcess> {
  const httpPort = port ?? (await freePort());
  const httpsPort = opts.httpsPort ?? (await freePort());
  const socketPath = join(dir, 'run', 'router.sock');
  const child = spawn(
    process.execPath,
    [
      AGENT_BIN, 'router', '--state-dir', dir, '--http-listen', `127.0.0.1:${httpPort}`,
      '--https-listen', `127.0.0.1:${httpsPort}`, '--router-socket', socketPath, ...(opts.extraArgs ?? []),
    ],
    // BERTH_TEST_ROUTER_WORKERS=2 runs the process tests against a router with two workers (docs/router.md "Workers").
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '', BERTH_ROUTER_WORKERS: process.env['BERTH_TEST_ROUTER_WORKERS'] ?? '' } },
  );
  let stdout = '';
  // Always read: a full pipe would block the router's writes.
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const client = createRouterClient(socketPath, { timeoutMs: 1_000 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`router exited with ${child.exitCode}: ${stderr}`);
    try {
      await client.health();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`router did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { child, port: httpPort, httpsPort, socketPath, stderr: () => stderr, stdout: () => stdout, exited };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
