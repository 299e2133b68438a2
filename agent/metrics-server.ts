// The metrics listener of the agent and of the router (--metrics-listen):
// plain HTTP, `GET /metrics` only, on its own port so scrapes never share the
// proxy's or the API's connection caps and a proxied Host can never reach it.
// Also the process metrics both expose.

import { readdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guardConnections } from './connection-guard.js';
import { httpTimeouts } from './core/connection-budget.js';
import { CONTENT_TYPE, type MetricFamily } from './core/prometheus.js';

export interface MetricsListen {
  host: string;
  port: number;
}

export interface MetricsServerOptions {
  listen: MetricsListen;
  /** The whole exposition, built at scrape time. */
  render: () => Promise<string>;
  /** One line per event (start problems, failed renders). */
  log: (message: string) => void;
}

export interface RunningMetricsServer {
  /** Where it listens (the real port when 0 was asked for). */
  readonly address: MetricsListen;
  close(): Promise<void>;
}

// A scraper or two and a curl: a few connections are plenty, and a slow client must not hold one long.
const LIMITS = { maxConnections: 32, maxPerAddress: 8, headerTimeoutMs: 10_000 };

export function isLoopback(host: string): boolean {
  return host === '::1' || /^(::ffff:)?127\./.test(host);
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningMetricsServer> {
  const server = createServer({ ...httpTimeouts(LIMITS.headerTimeoutMs, false), requestTimeout: LIMITS.headerTimeoutMs }, (req, res) => {
    answer(req, res, options);
  });
  guardConnections(server, LIMITS, (m) => options.log(`warning: metrics listener: ${m}`));
  await listen(server, options.listen);
  server.on('error', (e) => options.log(`error: metrics listener: ${e.message}`));
  const address = server.address() as AddressInfo;
  return {
    address: { host: address.address, port: address.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, options: MetricsServerOptions): void {
  const path = (req.url ?? '').split('?', 1)[0];
  // Nothing is read from a request body: close rather than drain one.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.shouldKeepAlive = false;
  if (path !== '/metrics') {
    plain(res, 404, 'not found: the metrics are at /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    plain(res, 405, 'method not allowed: GET /metrics\n');
    return;
  }
  options.render().then(
    (body) => {
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    (e: unknown) => {
      options.log(`error: rendering the metrics failed: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) plain(res, 500, 'the metrics could not be rendered\n');
    },
  );
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listen(server: Server, at: MetricsListen): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The usual `process_*` metrics (names as Prometheus' client libraries use them); open files only where /proc exists. */
export async function processFamilies(): Promise<MetricFamily[]> {
  const cpu = process.cpuUsage();
  const families: MetricFamily[] = [
    { name: 'process_cpu_seconds_total', help: 'User and system CPU time spent, in seconds.', type: 'counter', samples: [{ labels: {}, value: (cpu.user + cpu.system) / 1e6 }] },
    { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [{ labels: {}, value: process.memoryUsage.rss() }] },
    { name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, in seconds.', type: 'gauge', samples: [{ labels: {}, value: Math.round(Date.now() / 1000 - process.uptime()) }] },
  ];
  const fds = await readdir('/proc/self/fd').then((e) => e.length - 1, () => undefined);
  if (fds !== undefined) families.push({ name: 'process_open_fds', help: 'Open file descriptors.', type: 'gauge', samples: [{ labels: {}, value: fds }] });
  return families;
}
