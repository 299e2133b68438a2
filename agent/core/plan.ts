// PURE: plan(manifest, observed) -> steps. The engine observes Docker and the
// route table, asks for a plan, and executes its steps phase by phase; a re-run
// after a crash observes again and gets a plan that skips what is done.
import { ConflictError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { Route } from '../../shared/api-types.js';
import { APP_KIND, LABEL, containerName, replicaNames, replicasOf, roleOf } from './containers.js';
import { routeKey, routeName, targetAddress } from './routes.js';

export interface ObservedContainer {
  id: string;
  name: string;
  running: boolean;
  labels: Record<string, string>;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** When it last stopped (ms since the epoch); null or absent when unknown or never ran. */
  finishedAt?: number | null;
  ip: string | null;
}

export interface Observed {
  imagePresent: boolean;
  /** Berth's containers of this service (any state, any destination) plus whatever holds a name this release needs. */
  containers: ObservedContainer[];
  /** The agent's route table. */
  routes: Route[];
  /** The release that was current (served) before this deploy, if any. */
  currentRelease?: string | null;
}

export type Phase = 'PULLED' | 'STARTED' | 'HEALTHY' | 'SWITCHED' | 'DRAINED' | 'DONE';
export const PHASES: readonly Phase[] = ['PULLED', 'STARTED', 'HEALTHY', 'SWITCHED', 'DRAINED', 'DONE'];

/** `replica` is set from the second container of a role on (roles.replicas.v1); absent means the first. */
export type Step =
  | { phase: 'PULLED'; kind: 'pull'; image: string }
  | { phase: 'STARTED'; kind: 'create'; role: string; name: string; replica?: number }
  /** A stopped container of this release whose spec changed: remove it, then create. */
  | { phase: 'STARTED'; kind: 'replace'; role: string; name: string; containerId: string; replica?: number }
  /** A retained container of this release, unchanged: starting it is a rollback without a pull. */
  | { phase: 'STARTED'; kind: 'start'; role: string; name: string; containerId: string; replica?: number }
  | { phase: 'STARTED'; kind: 'reuse'; role: string; name: string; containerId: string; replica?: number }
  | { phase: 'HEALTHY'; kind: 'http-check'; role: string; port: number; path: string; intervalSeconds: number; requestTimeoutSeconds: number; timeoutSeconds: number }
  | { phase: 'HEALTHY'; kind: 'running-check'; role: string; delaySeconds: number }
  | { phase: 'SWITCHED'; kind: 'route'; role: string; service: string; destination: string; previous: Route | null }
  | { phase: 'DRAINED'; kind: 'drain'; role: string; target: string; timeoutSeconds: number }
  | { phase: 'DRAINED'; kind: 'stop'; role: string; containerId: string; name: string; timeoutSeconds: number }
  | { phase: 'DONE'; kind: 'prune'; role: string; containerIds: string[]; names: string[] };

export function isRoleContainer(c: ObservedContainer, manifest: ManifestPayload, role: string): boolean {
  return (
    c.labels[LABEL.kind] === APP_KIND &&
    c.labels[LABEL.service] === manifest.service &&
    (c.labels[LABEL.destination] ?? '') === manifest.destination &&
    c.labels[LABEL.role] === role
  );
}

/**
 * `fingerprints` holds each role's spec fingerprint (agent/core/fingerprint.ts):
 * it needs the unsealed secrets, which the engine has and plan must not.
 */
export function plan(manifest: ManifestPayload, observed: Observed, fingerprints: Readonly<Record<string, string>>): Step[] {
  const steps: Step[] = [];
  if (!observed.imagePresent) steps.push({ phase: 'PULLED', kind: 'pull', image: manifest.image });

  const roles = Object.keys(manifest.roles).sort();
  const newIds = new Map<string, Set<string>>();
  for (const role of roles) {
    const ids = new Set<string>();
    for (let replica = 1; replica <= replicasOf(manifest, role); replica++) {
      const { step, containerId } = startStep(manifest, role, replica, observed.containers, fingerprints[role]);
      steps.push(step);
      if (containerId !== undefined) ids.add(containerId);
    }
    newIds.set(role, ids);
  }

  for (const role of roles) {
    const r = roleOf(manifest, role);
    if (r.proxy) {
      const hc = r.proxy.healthcheck;
      steps.push({
        phase: 'HEALTHY',
        kind: 'http-check',
        role,
        port: r.proxy.app_port,
        path: hc.path,
        intervalSeconds: hc.interval,
        requestTimeoutSeconds: hc.timeout,
        timeoutSeconds: manifest.deploy_timeout,
      });
    } else {
      steps.push({ phase: 'HEALTHY', kind: 'running-check', role, delaySeconds: manifest.readiness_delay });
    }
  }

  const retired = new Map<string, ReturnType<typeof retirement>>();
  for (const role of roles) retired.set(role, retirement(manifest, role, observed, newIds.get(role) ?? new Set()));

  for (const role of roles) {
    const proxy = roleOf(manifest, role).proxy;
    if (!proxy) continue;
    const key = routeKey(manifest, role);
    const previous = observed.routes.find((route) => route.service === routeName(manifest, role)) ?? null;
    steps.push({ phase: 'SWITCHED', kind: 'route', role, ...key, previous });
    // Drain what is about to be stopped, not the previous route: after a crash
    // the route may already point at the new container while the old still has
    // requests in flight.
    for (const c of retired.get(role)?.stop ?? []) {
      if (!c.ip) continue;
      steps.push({ phase: 'DRAINED', kind: 'drain', role, target: targetAddress(c.ip, proxy.app_port), timeoutSeconds: manifest.drain_timeout });
    }
  }

  for (const role of roles) {
    const { stop, prune } = retired.get(role) ?? { stop: [], prune: [] };
    for (const c of stop) {
      steps.push({ phase: 'DRAINED', kind: 'stop', role, containerId: c.id, name: c.name, timeoutSeconds: manifest.stop_timeout });
    }
    if (prune.length > 0) {
      steps.push({ phase: 'DONE', kind: 'prune', role, containerIds: prune.map((c) => c.id), names: prune.map((c) => c.name) });
    }
  }
  return steps;
}

function startStep(
  manifest: ManifestPayload,
  role: string,
  replica: number,
  containers: ObservedContainer[],
  fingerprint: string | undefined,
): { step: Step; containerId: string | undefined } {
  const name = containerName(manifest, role, replica);
  const which = replica > 1 ? { replica } : {};
  const holder = containers.find((c) => c.name === name);
  if (!holder) return { step: { phase: 'STARTED', kind: 'create', role, name, ...which }, containerId: undefined };
  if (!isRoleContainer(holder, manifest, role) || holder.labels[LABEL.release] !== manifest.version) {
    throw new ConflictError(
      `container name ${name} is taken by a container Berth did not create (${holder.id.slice(0, 12)})`,
      `remove or rename that container on this host, then deploy again`,
      'container_name_taken',
    );
  }
  const containerId = holder.id;
  const sameSpec = fingerprint !== undefined && holder.labels[LABEL.spec] === fingerprint;
  if (holder.running) {
    // Keeping it would silently ignore the new env/cmd/labels; replacing it would
    // take down what may be serving. Only a new version can do that safely.
    if (!sameSpec) {
      throw new ConflictError(
        `release ${manifest.version} is already running with a different configuration (env, cmd, labels, volumes, logging or options); push it under a new version`,
        undefined,
        'release_config_changed',
      );
    }
    return { step: { phase: 'STARTED', kind: 'reuse', role, name, containerId, ...which }, containerId };
  }
  if (sameSpec) {
    return { step: { phase: 'STARTED', kind: 'start', role, name, containerId, ...which }, containerId };
  }
  // A fresh container replaces the stale one, so the old id is not the new one.
  return { step: { phase: 'STARTED', kind: 'replace', role, name, containerId, ...which }, containerId: undefined };
}

/**
 * After a switch: every other container of the role that still runs is
 * stopped, and of the stopped ones only the `retain_containers` that ran most
 * recently stay (times the role's replicas, so as many releases stay whole).
 * The release's own containers (newIds) are never touched, nor are the ones
 * that served just before this deploy: they are the rollback target.
 */
export function retirement(
  manifest: ManifestPayload,
  role: string,
  observed: Pick<Observed, 'containers' | 'currentRelease'>,
  newIds: ReadonlySet<string>,
): { stop: ObservedContainer[]; prune: ObservedContainer[] } {
  const newNames = new Set(replicaNames(manifest, role));
  const others = observed.containers.filter(
    (c) => isRoleContainer(c, manifest, role) && !newIds.has(c.id) && !newNames.has(c.name),
  );
  const stop = others.filter((c) => c.running);
  // Running ones serve until the switch; the current release may have crashed but is still what a rollback wants.
  const servedBefore = (c: ObservedContainer) =>
    c.running || (observed.currentRelease != null && c.labels[LABEL.release] === observed.currentRelease);
  const byLastRun = [...others].sort(
    (a, b) => lastRan(b) - lastRan(a) || b.createdAt - a.createdAt || Number(b.labels[LABEL.seq] ?? 0) - Number(a.labels[LABEL.seq] ?? 0),
  );
  const prune = byLastRun.slice(Math.max(0, manifest.retain_containers * replicasOf(manifest, role))).filter((c) => !servedBefore(c));
  return { stop, prune };
}

/** A running container runs now; a stopped one last ran when it stopped (or, unknown, when it was made). */
function lastRan(c: ObservedContainer): number {
  if (c.running) return Number.MAX_SAFE_INTEGER;
  return c.finishedAt ?? c.createdAt;
}
