// The router process wired together: the live route table, the proxy server,
// the control server and the snapshot. Route changes are serialized; the live
// table is one reference, swapped in a single assignment.

import { createServer, type Server } from 'node:http';
import type { Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { splitTarget } from '../../shared/routes.js';
import { probeHttp } from '../http-probe.js';
import { guardConnections, type GuardedLimits } from '../connection-guard.js';
import { httpTimeouts } from '../core/connection-budget.js';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_ROUTER_CONNECTIONS, type RouterConfig } from './config.js';
import { Balancer } from './balancer.js';
import { ChallengeAnswers } from './acme-challenges.js';
import { CertificateStore } from './certificates.js';
import { ErrorPageStore } from './error-pages.js';
import { createControlServer, listenOnSocket } from './control.js';
import { createHttpsProxyServer } from './https.js';
import { InflightCounter } from './inflight.js';
import { RouterMetrics, startRouterMetrics, NO_METRICS, type CertificateInfo } from './metrics.js';
import type { MetricsCounts } from './cluster-protocol.js';
import { PauseGate } from './pause.js';
import { Spool } from './buffer-store.js';
import { createProxyHandler, failureLog } from './proxy.js';
import { createRequestLog } from './request-log.js';
import { loadSnapshot, saveSnapshot } from './snapshot.js';
import { assertNewer, buildTable, EMPTY_ROUTE_SET, type RouteTable } from './table.js';
import { TargetPool } from './target-pool.js';
import type { RouteSet } from './types.js';
import { attachUpgrades } from './upgrade.js';

export interface RunningRouter {
  /** Where the proxy listens (the real port when 0 was asked for). */
  readonly http: { host: string; port: number };
  /** Where HTTPS is served; undefined when off. */
  readonly https: { host: string; port: number } | undefined;
  readonly socketPath: string;
  /** Where GET /metrics is served; absent when the metrics listener is off. */
  readonly metrics?: { host: string; port: number };
  version(): number;
  /** Requests of paused routes waiting right now. */
  held(): number;
  /** Stops accepting, waits for in-flight requests (bounded), closes everything. */
  stop(): Promise<void>;
  /** Present when started with `worker`: what the cluster primary drives. */
  readonly worker?: WorkerHandle;
}

/** A cluster worker's data plane (agent/router/cluster-worker.ts): the primary owns the control socket, snapshot and caps. */
export interface WorkerPlane {
  routeSet: RouteSet;
  certificates: CertificateStore;
  challenges: ChallengeAnswers;
  errorPages: ErrorPageStore;
  /** Count metrics for the primary to sum. */
  metrics: boolean;
  /** Replaces the local connection caps. */
  guard(servers: readonly Server[]): GuardedLimits;
}

export interface WorkerHandle {
  /** Makes `next` live, as a local apply does after its snapshot is saved. */
  swap(next: RouteTable): void;
  inflight(): Record<string, number>;
  metrics(): Promise<MetricsCounts> | undefined;
}

export interface RouterOptions {
  log?: (message: string) => void;
  /** The certificates served, for their expiry metric; none when absent. */
  certificates?: () => readonly CertificateInfo[];
  /** Where request log lines go (agent/router/request-log.ts); no request log when absent. */
  requestLog?: (lines: string) => boolean;
  /** Set in a cluster worker: serve this, with no control socket, snapshot or local caps. */
  worker?: WorkerPlane;
}

export function stderrLog(message: string): void {
  process.stderr.write(`${new Date().toISOString()} berth-router ${message}\n`);
}

export async function startRouter(config: RouterConfig, options: RouterOptions = {}): Promise<RunningRouter> {
  const log = options.log ?? stderrLog;
  const worker = options.worker;
  let table: RouteTable = buildTable(worker ? worker.routeSet : await initialRouteSet(config.snapshotPath, log));
  let draining = false;
  const idleTimeoutMs = config.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const pauses = new PauseGate(idleTimeoutMs);
  const inflight = new InflightCounter();
  const pool = new TargetPool();
  const balancer = new Balancer({ probe: probeTarget, log, onUp: (t) => metrics.metrics.targetAnswered(t) });
  balancer.setRouted(table.routeSet);
  pool.setRouted(table.targets(), (t) => inflight.count(t) > 0);
  inflight.onTargetIdle((t) => pool.releaseIfUnrouted(t));

  let applying: Promise<unknown> = Promise.resolve();
  const apply = (set: RouteSet): Promise<number> => {
    const run = applying.then(async () => {
      assertNewer(set, table.version);
      const next = buildTable(set);
      errorPages.assertComplete(set);
      await saveSnapshot(config.snapshotPath, set);
      swap(next);
      await errorPages.prune(set);
      log(`routes applied version=${set.version} routes=${set.routes.length}`);
      return set.version;
    });
    applying = run.catch(() => undefined);
    return run;
  };
  const swap = (next: RouteTable): void => {
    metrics.routesApplied(table.routeSet, next.routeSet);
    table = next;
    pauses.routesChanged();
    pool.setRouted(next.targets(), (t) => inflight.count(t) > 0);
    balancer.setRouted(next.routeSet);
  };

  const challenges = worker?.challenges ?? new ChallengeAnswers();
  const certificates = worker?.certificates ?? new CertificateStore(config.tlsDir ?? join(config.stateDir, 'router', 'tls'), log);
  if (!worker) await certificates.load();
  const errorPages = worker?.errorPages ?? new ErrorPageStore(join(config.stateDir, 'router', 'error-pages'), log);
  if (!worker) await errorPages.load();

  const requestLog = options.requestLog ? createRequestLog({ write: options.requestLog }) : undefined;
  const connections = config.connections ?? DEFAULT_ROUTER_CONNECTIONS;
  const metricsDeps = {
    routeSet: () => table.routeSet,
    openConnections: async () => (await Promise.all(servers.map(openConnections))).reduce((a, b) => a + b, 0),
    certificates: options.certificates ?? (() => certificates.list().map((c) => ({ hosts: c.hosts, notAfter: new Date(c.not_after) }))),
  };
  // A worker counts; the primary serves the scrape.
  const workerMetrics = worker?.metrics ? new RouterMetrics(metricsDeps) : undefined;
  const metrics = worker
    ? { metrics: workerMetrics ?? NO_METRICS, server: undefined, routesApplied: (a: RouteSet, b: RouteSet) => workerMetrics?.routesApplied(a, b) }
    : await startRouterMetrics(config.metricsListen, metricsDeps, log);
  // No request timeout: uploads and responses may take as long as they take
  // while bytes move; a silent head, an idle kept-alive connection and a
  // connection that moves nothing for the idle timeout are closed.
  const handler = createProxyHandler({
    table: () => table, inflight, pool, balancer, draining: () => draining, log, idleTimeoutMs, pauses,
    webhookSocket: config.webhookSocket ?? join(dirname(config.socketPath), 'webhooks.sock'),
    metrics: metrics.metrics,
    spool: new Spool(join(config.stateDir, 'router', 'buffers'), undefined, config.bufferDiskMax),
    ...(requestLog ? { requestLog } : {}),
    tls: { challenges, hasCertificate: (host) => config.httpsListen !== undefined && certificates.hasCertificateFor(host) },
    errorPages,
  });
  const proxyServer = createServer({ ...httpTimeouts(connections.headerTimeoutMs, false), requestTimeout: 0 }, handler);
  // Socket inactivity: Node destroys a socket quiet this long (no 'timeout' listener);
  // the proxy lifts it while the app is working on an answer.
  proxyServer.timeout = idleTimeoutMs;
  const httpsServer = config.httpsListen
    ? createHttpsProxyServer(certificates, handler, { headerTimeoutMs: connections.headerTimeoutMs, idleTimeoutMs, log })
    : undefined;
  const servers: Server[] = httpsServer ? [proxyServer, httpsServer] : [proxyServer];
  const upgradeDeps = { table: () => table, inflight, balancer, pauses, log: failureLog(log), plain: handler, idleTimeoutMs, errorPages };
  const upgrades = [
    attachUpgrades(proxyServer, { ...upgradeDeps, proto: 'http' }),
    ...(httpsServer ? [attachUpgrades(httpsServer, { ...upgradeDeps, proto: 'https' })] : []),
  ];
  const closeUpgrades = (): void => upgrades.forEach((u) => u.closeAll());
  // One budget for both listeners: a client holds the same slots whichever port it uses.
  const limits = worker ? worker.guard(servers) : guardConnections(servers, connections, (m) => log(`warning: ${m}`));
  for (const server of servers) {
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      // Not in the middle of an answer (a pipelined request broke while the one before is relayed):
      // the client would read those bytes as the rest of that answer's body.
      const answering = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage?.headersSent === true;
      if (socket.writable && !answering) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      socket.destroy();
    });
  }
  const controlServer = createControlServer({
    routeSet: () => table.routeSet,
    apply,
    targets: () => inflight.report(table.targets()),
    log,
    tls: { challenges, certificates },
    errorPages,
  });

  if (!worker) await listenOnSocket(controlServer, config.socketPath);
  try {
    await listenHttp(proxyServer, config.httpListen.host, config.httpListen.port);
    if (httpsServer && config.httpsListen) await listenHttp(httpsServer, config.httpsListen.host, config.httpsListen.port);
  } catch (e) {
    if (proxyServer.listening) await closeServer(proxyServer);
    await metrics.server?.close();
    if (!worker) {
      await closeServer(controlServer);
      await unlink(config.socketPath).catch(() => undefined);
    }
    throw e;
  }
  // Failures after listening (accept errors, EMFILE) are logged, never fatal to the data plane.
  for (const server of servers) server.on('error', (e) => log(`error: proxy server: ${e.message}`));
  controlServer.on('error', (e) => log(`error: control server: ${e.message}`));
  const address = proxyServer.address() as AddressInfo;
  const tlsAddress = httpsServer?.address() as AddressInfo | undefined;
  log(
    `started pid=${process.pid} http=${address.address}:${address.port} https=${tlsAddress ? `${tlsAddress.address}:${tlsAddress.port}` : 'off'} ` +
      `certificates=${certificates.list().length} socket=${worker ? 'primary' : config.socketPath} version=${table.version} ` +
      `max_connections=${limits.maxConnections} max_connections_per_ip=${limits.maxPerAddress}`,
  );

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    draining = true;
    // WebSockets never end on their own and cannot outlive the process: cut at once, as kamal-proxy does.
    const upgraded = upgrades.reduce((n, u) => n + u.open, 0);
    if (upgraded > 0) log(`stopping; closing ${upgraded} upgraded connection(s)`);
    closeUpgrades();
    log(`stopping; waiting for ${inflight.total} in-flight request(s)`);
    const closed = Promise.all([...servers.map(closeServer), ...(worker ? [] : [closeServer(controlServer)])]);
    controlServer.closeIdleConnections();
    if (!worker) await unlink(config.socketPath).catch(() => undefined);
    // Keep-alive connections that go idle after their last response are closed as
    // they appear, and so is an upgrade one of them made meanwhile (closeAllConnections
    // does not see upgraded sockets, and server.close() would wait for them).
    const closeIdle = (): void => {
      servers.forEach((s) => s.closeIdleConnections());
      closeUpgrades();
    };
    const sweeper = setInterval(closeIdle, 100);
    closeIdle();
    const finished = await inflight.whenIdle(config.shutdownTimeoutMs);
    clearInterval(sweeper);
    if (!finished) log(`shutdown timeout: cutting ${inflight.total} request(s)`);
    servers.forEach((s) => s.closeAllConnections());
    controlServer.closeAllConnections();
    await closed;
    await metrics.server?.close();
    await applying;
    pool.destroyAll();
    balancer.stop();
    requestLog?.flush();
    log('stopped');
  };

  return {
    http: { host: address.address, port: address.port },
    https: tlsAddress ? { host: tlsAddress.address, port: tlsAddress.port } : undefined,
    socketPath: config.socketPath,
    ...(metrics.server ? { metrics: metrics.server.address } : {}),
    version: () => table.version,
    held: () => pauses.held,
    stop: () => (stopping ??= stop()),
    ...(worker ? {
      worker: {
        swap,
        inflight: () => Object.fromEntries(Object.entries(inflight.report([])).map(([t, s]) => [t, s.inflight])),
        metrics: () => workerMetrics?.counts(),
      },
    } : {}),
  };
}

/** The balancer's health check of a target out of rotation: the agent's own probe (2xx passes). */
function probeTarget(target: string, path: string, timeoutMs: number): Promise<boolean> {
  const address = splitTarget(target);
  return address ? probeHttp(address.host, address.port, path, timeoutMs).then((r) => r.ok) : Promise.resolve(false);
}

export async function initialRouteSet(path: string, log: (m: string) => void): Promise<RouteSet> {
  try {
    return (await loadSnapshot(path)) ?? EMPTY_ROUTE_SET;
  } catch (e) {
    // Serving nothing until the agent resends beats not starting at all.
    log(`error: ignoring unusable route snapshot: ${(e as Error).message}`);
    return EMPTY_ROUTE_SET;
  }
}

function listenHttp(server: Server | TlsServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((e, n) => resolve(e ? 0 : n)));
}

function closeServer(server: Server | TlsServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
