// Which target of a route gets a request: round robin over the targets in
// rotation. A target that cannot be reached leaves the rotation (when its route
// has others) until a health check of it passes again. With every target out,
// requests still go round robin to all of them: refusing would fail them anyway,
// and the first that answers again is found at once.

import { routeTargets } from '../../shared/routes.js';
import type { Route, RouteSet } from './types.js';

/** True when `target` answers GET `path` with a 2xx within `timeoutMs`. */
export type HealthProbe = (target: string, path: string, timeoutMs: number) => Promise<boolean>;

/** As kamal-proxy's health checks: once a second, two seconds to answer. */
export const PROBE_INTERVAL_MS = 1_000;
export const PROBE_TIMEOUT_MS = 2_000;
/** Kamal's default health check path, for a route that names none. */
export const DEFAULT_PROBE_PATH = '/up';

export interface BalancerDeps {
  probe: HealthProbe;
  log: (message: string) => void;
  /** A target back in rotation (its up/down gauge). */
  onUp?: (target: string) => void;
  intervalMs?: number;
}

interface Outage {
  path: string;
  timer: NodeJS.Timeout | undefined;
}

export class Balancer {
  /** Targets out of rotation, each with its probe loop. */
  readonly #out = new Map<string, Outage>();
  /** Where each route's round robin goes next; a new table starts it over. */
  readonly #next = new WeakMap<Route, number>();
  #stopped = false;

  constructor(private readonly deps: BalancerDeps) {}

  /** The target for the next request of `route`. */
  pick(route: Route): string {
    const targets = route.target;
    if (typeof targets === 'string') return targets;
    const n = targets.length;
    const start = this.#next.get(route) ?? 0;
    if (this.#out.size !== 0) {
      for (let i = 0; i < n; i++) {
        const at = (start + i) % n;
        if (!this.#out.has(targets[at]!)) {
          this.#next.set(route, (at + 1) % n);
          return targets[at]!;
        }
      }
    }
    this.#next.set(route, (start + 1) % n);
    return targets[start % n]!;
  }

  /** Like pick, but only a target in rotation other than `not`; undefined when there is none. */
  pickInRotation(route: Route, not: string): string | undefined {
    const targets = routeTargets(route);
    if (targets.length < 2) return undefined;
    const chosen = this.pick(route);
    if (chosen !== not && !this.#out.has(chosen)) return chosen;
    return targets.find((t) => t !== not && !this.#out.has(t));
  }

  /** `target` of `route` could not be reached: out of rotation while the route has other targets. */
  failed(route: Route, target: string): void {
    if (this.#stopped || this.#out.has(target)) return;
    const targets = routeTargets(route);
    if (targets.length < 2 || !targets.includes(target)) return;
    const outage: Outage = { path: route.health_path ?? DEFAULT_PROBE_PATH, timer: undefined };
    this.#out.set(target, outage);
    this.deps.log(`target ${target} of ${route.service} is out of rotation until its health check at ${outage.path} passes`);
    this.#schedule(target, outage);
  }

  /** True while `target` is in rotation (never failed, or its health check passed since). */
  inRotation(target: string): boolean {
    return !this.#out.has(target);
  }

  /** Targets no longer balanced over are forgotten, and their health checks stop. */
  setRouted(set: RouteSet): void {
    const balanced = new Set<string>();
    for (const route of set.routes) {
      const targets = routeTargets(route);
      if (targets.length > 1) for (const t of targets) balanced.add(t);
    }
    for (const [target, outage] of this.#out) {
      if (balanced.has(target)) continue;
      clearTimeout(outage.timer);
      this.#out.delete(target);
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const outage of this.#out.values()) clearTimeout(outage.timer);
    this.#out.clear();
  }

  #schedule(target: string, outage: Outage): void {
    outage.timer = setTimeout(() => void this.#check(target, outage), this.deps.intervalMs ?? PROBE_INTERVAL_MS);
    outage.timer.unref();
  }

  async #check(target: string, outage: Outage): Promise<void> {
    const healthy = await this.deps.probe(target, outage.path, PROBE_TIMEOUT_MS).catch(() => false);
    // Forgotten or stopped meanwhile.
    if (this.#out.get(target) !== outage) return;
    if (!healthy) return this.#schedule(target, outage);
    this.#out.delete(target);
    this.deps.log(`target ${target} is back in rotation: its health check passed`);
    this.deps.onUp?.(target);
  }
}
