// The router's metrics (--metrics-listen; docs/router.md "Metrics"): counted
// per service in slots made from the route set, never from anything a client
// sends, so an unrouted Host cannot create a series. Per request: one Map
// lookup, a few array increments and one clock read, inside the 'close'
// listener that also ends the in-flight count. Rendered at scrape time.

import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import { Histogram, renderFamilies, type MetricFamily, type Sample } from '../core/prometheus.js';
import { isLoopback, processFamilies, startMetricsServer, type MetricsListen, type RunningMetricsServer } from '../metrics-server.js';
import type { MetricsCounts } from './cluster-protocol.js';
import type { RouteSet } from './types.js';
import { routeTargets } from '../../shared/routes.js';

/** The service label of requests no route answered: refused targets, unrouted hosts, webhooks. */
export const NO_SERVICE = '(none)';
/** Seconds; the default response timeout (30 s) and a minute of streaming still land in a finite bucket. */
export const DURATION_BOUNDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** code_class by the status' first digit; slot 0: the client went away before any answer was sent. */
export const CODE_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface CertificateInfo {
  hosts: readonly string[];
  notAfter: Date;
}

/** What the request path reports to; a no-op one when metrics are off, so nothing is counted then. */
export interface RequestMetrics {
  /** Records the request when `res` closes, after calling `release` (the in-flight count's), in one listener. */
  observe(service: string | undefined, res: ServerResponse, release?: () => void): void;
  /** The target failed to answer (refused, reset, unreachable): shown down until it answers again. */
  targetFailed(target: string): void;
  /** The target sent a response head. */
  targetAnswered(target: string): void;
}

export const NO_METRICS: RequestMetrics = {
  observe(_service, res, release) {
    if (release) res.once('close', release);
  },
  targetFailed() {},
  targetAnswered() {},
};

class ServiceSlot {
  readonly requests = new Float64Array(CODE_CLASSES.length);
  readonly duration = new Histogram(DURATION_BOUNDS);
  inflight = 0;
  switches = 0;

  end(res: ServerResponse, startedMs: number): void {
    this.inflight -= 1;
    const cls = res.headersSent ? Math.min(5, Math.max(1, Math.floor(res.statusCode / 100))) : 0;
    this.requests[cls] = (this.requests[cls] as number) + 1;
    this.duration.observe((performance.now() - startedMs) / 1000);
  }
}

export interface RouterMetricsDeps {
  /** The live route set. */
  routeSet: () => RouteSet;
  /** Client connections open on the proxy listener(s). */
  openConnections: () => Promise<number>;
  /** Certificates in use (the TLS side provides them); none by default. */
  certificates?: () => readonly CertificateInfo[];
  /** In a cluster primary: every worker's counts, added to this process's own at scrape time. */
  workers?: () => Promise<readonly MetricsCounts[]>;
}

export class RouterMetrics implements RequestMetrics {
  readonly #slots = new Map<string, ServiceSlot>();
  readonly #down = new Set<string>();

  constructor(private readonly deps: RouterMetricsDeps) {
    this.#slots.set(NO_SERVICE, new ServiceSlot());
  }

  observe(service: string | undefined, res: ServerResponse, release?: () => void): void {
    const slot = this.#slot(service ?? NO_SERVICE);
    slot.inflight += 1;
    const started = performance.now();
    res.once('close', () => {
      release?.();
      slot.end(res, started);
    });
  }

  targetFailed(target: string): void {
    this.#down.add(target);
  }

  targetAnswered(target: string): void {
    if (this.#down.size !== 0) this.#down.delete(target);
  }

  /** Before `next` goes live: a service whose targets change is a switch; services and targets gone are dropped. */
  routesApplied(before: RouteSet, next: RouteSet): void {
    const old = targetsByService(before);
    for (const [service, targets] of targetsByService(next)) {
      const was = old.get(service);
      if (was !== undefined && was !== targets) this.#slot(service).switches += 1;
    }
    const routed = new Set(next.routes.flatMap((r) => routeTargets(r)));
    for (const t of this.#down) if (!routed.has(t)) this.#down.delete(t);
    this.#prune(next);
  }

  /** This process's counters as plain data, for the cluster primary to sum. */
  async counts(): Promise<MetricsCounts> {
    const slots: MetricsCounts['slots'] = {};
    for (const [service, s] of this.#slots) {
      slots[service] = { requests: [...s.requests], buckets: [...s.duration.counts], sum: s.duration.sum, count: s.duration.count, inflight: s.inflight };
    }
    return { slots, down: [...this.#down], open: await this.deps.openConnections() };
  }

  async render(): Promise<string> {
    const set = this.deps.routeSet();
    this.#prune(set);
    const remote = (await this.deps.workers?.()) ?? [];
    const merged = remote.length === 0 ? this.#slots : mergeSlots(this.#slots, remote, set);
    const down = remote.length === 0 ? this.#down : new Set([...this.#down, ...remote.flatMap((r) => r.down)]);
    const open = (await this.deps.openConnections()) + remote.reduce((n, r) => n + r.open, 0);
    const slots = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const perService = (value: (s: ServiceSlot) => number): Sample[] => slots.map(([service, s]) => ({ labels: { service }, value: value(s) }));
    const families: MetricFamily[] = [
      {
        name: 'berth_router_requests_total', help: `Requests answered, by service (${NO_SERVICE}: no route) and status class (none: the client left before an answer).`, type: 'counter',
        samples: slots.flatMap(([service, s]) => CODE_CLASSES.map((code_class, i) => ({ labels: { service, code_class }, value: s.requests[i] as number }))),
      },
      {
        name: 'berth_router_request_duration_seconds', help: 'Time from routing a request until its response closed.', type: 'histogram',
        samples: slots.map(([service, s]) => ({ labels: { service }, histogram: s.duration })),
      },
      { name: 'berth_router_inflight_requests', help: 'Requests being answered now.', type: 'gauge', samples: perService((s) => s.inflight) },
      {
        name: 'berth_router_target_up', help: 'Per routed target: 0 after a connection to it failed, until it answers again; 1 otherwise.', type: 'gauge',
        samples: [...targetsByService(set)].flatMap(([service, targets]) =>
          targets.split(' ').map((target) => ({ labels: { service, target }, value: down.has(target) ? 0 : 1 }))),
      },
      { name: 'berth_router_certificate_expiry_timestamp_seconds', help: 'When the certificate served for a host expires, seconds since the Unix epoch.', type: 'gauge', samples: certificateSamples(this.deps.certificates?.() ?? []) },
      {
        name: 'berth_router_switches_total', help: 'Route changes that moved a service to other targets.', type: 'counter',
        samples: perService((s) => s.switches).filter((s) => s.labels['service'] !== NO_SERVICE),
      },
      { name: 'berth_router_route_set_version', help: 'Version of the live route set.', type: 'gauge', samples: [{ labels: {}, value: set.version }] },
      { name: 'berth_router_open_connections', help: 'Client connections open on the proxy.', type: 'gauge', samples: [{ labels: {}, value: open }] },
      ...(await processFamilies()),
    ];
    return renderFamilies(families);
  }

  #slot(service: string): ServiceSlot {
    let slot = this.#slots.get(service);
    if (slot === undefined) {
      // Only route set names get here (routed requests and switches), so series stay bounded.
      slot = new ServiceSlot();
      this.#slots.set(service, slot);
    }
    return slot;
  }

  /** A service no longer routed keeps its series only while requests to it are still running. */
  #prune(set: RouteSet): void {
    const live = new Set(set.routes.map((r) => r.service));
    for (const [service, slot] of this.#slots) {
      if (service !== NO_SERVICE && !live.has(service) && slot.inflight === 0) this.#slots.delete(service);
    }
  }
}

/** Copies of `local`'s slots with the workers' counts added; a service no longer routed only while requests to it run. */
function mergeSlots(local: ReadonlyMap<string, ServiceSlot>, remote: readonly MetricsCounts[], set: RouteSet): Map<string, ServiceSlot> {
  const live = new Set(set.routes.map((r) => r.service));
  const out = new Map<string, ServiceSlot>();
  const slot = (service: string): ServiceSlot => {
    let s = out.get(service);
    if (s === undefined) {
      s = new ServiceSlot();
      out.set(service, s);
    }
    return s;
  };
  const add = (to: ServiceSlot, requests: ArrayLike<number>, buckets: ArrayLike<number>, sum: number, count: number, inflight: number): void => {
    for (let i = 0; i < to.requests.length; i += 1) to.requests[i] = (to.requests[i] as number) + (requests[i] ?? 0);
    for (let i = 0; i < to.duration.counts.length; i += 1) to.duration.counts[i] = (to.duration.counts[i] as number) + (buckets[i] ?? 0);
    to.duration.sum += sum;
    to.duration.count += count;
    to.inflight += inflight;
  };
  for (const [service, s] of local) {
    const to = slot(service);
    to.switches = s.switches;
    add(to, s.requests, s.duration.counts, s.duration.sum, s.duration.count, s.inflight);
  }
  for (const r of remote) {
    for (const [service, s] of Object.entries(r.slots)) {
      add(slot(service), s.requests, s.buckets, s.sum, s.count, s.inflight);
    }
  }
  for (const [service, s] of out) if (service !== NO_SERVICE && !live.has(service) && s.inflight === 0) out.delete(service);
  return out;
}

/** Each service's distinct targets, sorted and space-separated (a service may have several routes: paths, hosts). */
function targetsByService(set: RouteSet): Map<string, string> {
  const lists = new Map<string, string[]>();
  for (const r of set.routes) lists.set(r.service, [...(lists.get(r.service) ?? []), ...routeTargets(r)]);
  return new Map([...lists].map(([service, targets]) => [service, [...new Set(targets)].sort().join(' ')]));
}

/** One series per host; a host on two certificates (a renewal overlapping) shows the later expiry. */
function certificateSamples(certificates: readonly CertificateInfo[]): Sample[] {
  const latest = new Map<string, number>();
  for (const c of certificates) {
    for (const host of c.hosts) latest.set(host, Math.max(latest.get(host) ?? 0, Math.floor(c.notAfter.getTime() / 1000)));
  }
  return [...latest].sort(([a], [b]) => (a < b ? -1 : 1)).map(([host, value]) => ({ labels: { host }, value }));
}

/** Starts the listener when configured; a listener that cannot start is logged and the router serves without it. */
export async function startRouterMetrics(
  listen: MetricsListen | undefined,
  deps: RouterMetricsDeps,
  log: (message: string) => void,
): Promise<{ metrics: RequestMetrics; server?: RunningMetricsServer; routesApplied(before: RouteSet, next: RouteSet): void }> {
  if (listen === undefined) return { metrics: NO_METRICS, routesApplied: () => undefined };
  const metrics = new RouterMetrics(deps);
  const routesApplied = (before: RouteSet, next: RouteSet): void => metrics.routesApplied(before, next);
  try {
    const server = await startMetricsServer({ listen, render: () => metrics.render(), log });
    const where = `${server.address.host}:${server.address.port}`;
    log(`metrics listening on ${where}`);
    if (!isLoopback(listen.host)) log(`warning: metrics on ${where} are not loopback-only: whoever reaches it reads service names, targets and hosts`);
    return { metrics, server, routesApplied };
  } catch (e) {
    log(`error: metrics listener on ${listen.host}:${listen.port} not started: ${(e as Error).message}; serving without metrics`);
    return { metrics: NO_METRICS, routesApplied: () => undefined };
  }
}
