// Keeping a route's targets in step with the replicas that run, between
// deploys: a replica that stopped (by hand, or crashed for good) leaves the
// route, and one running again comes back once its health check passes, at
// whatever address Docker gave it. A stopped container's address may never
// answer a SYN, so the router alone would hold requests sent there until the
// response timeout. Only roles with several replicas are watched: a single
// container's route stays as the deploy made it.
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { routeTargets } from '../../shared/routes.js';
import { isReleaseContainer, replicaNames, replicasOf } from '../core/containers.js';
import { proxiedRoles, routeKey, routeName, targetAddress } from '../core/routes.js';
import type { ContainerInfo } from '../docker.js';
import { stoppedRoles } from './app-state.js';
import { probeHttp } from './health.js';
import { serviceContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import type { EngineDeps } from './types.js';

type Deps = Pick<EngineDeps, 'store' | 'docker' | 'log' | 'probe'>;

export interface ReplicaWatch {
  /** One look at every current release with replicas; resolves once the router has any change. */
  check(): Promise<void>;
}

export function createReplicaWatch(deps: Deps, publisher: Pick<RoutePublisher, 'publish'>): ReplicaWatch {
  // Parsed once per release: the check runs every second.
  const manifests = new Map<number, ManifestPayload | null>();
  const manifestOf = (deployId: number): ManifestPayload | null => {
    let m = manifests.get(deployId);
    if (m === undefined) {
      try {
        m = parseManifestPayload(deps.store.getRelease(deployId)?.payload);
      } catch {
        m = null;
      }
      manifests.set(deployId, m);
    }
    return m;
  };

  return {
    async check() {
      let changed = false;
      const live = new Set<number>();
      for (const s of deps.store.services()) {
        if (!s.current) continue;
        live.add(s.current.deploy_id);
        const m = manifestOf(s.current.deploy_id);
        if (!m) continue;
        const stopped = stoppedRoles(deps.store, m.service, m.destination);
        const roles = proxiedRoles(m).filter((role) => replicasOf(m, role) > 1 && !stopped.has(role));
        if (roles.length === 0) continue;
        const containers = await serviceContainers(deps.docker, m.service, m.destination, { all: false });
        for (const role of roles) if (await repoint(deps, m, role, containers)) changed = true;
      }
      for (const id of manifests.keys()) if (!live.has(id)) manifests.delete(id);
      if (changed) await publisher.publish();
    },
  };
}

/** Sets the role's route to its running, healthy replicas; true when the stored route changed. */
async function repoint(deps: Deps, m: ManifestPayload, role: string, running: ContainerInfo[]): Promise<boolean> {
  const { store } = deps;
  const name = routeName(m, role);
  const before = store.routes.all().find((r) => r.service === name);
  const proxy = m.roles[role]?.proxy;
  if (!before || !proxy) return false;
  const routed = new Set(routeTargets(before));
  const order = replicaNames(m, role);
  const replicas = running
    .filter((c) => c.ip && isReleaseContainer(c.labels, { service: m.service, destination: m.destination, role, release: m.version }))
    .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const probe = deps.probe ?? probeHttp;
  const targets: string[] = [];
  for (const c of replicas) {
    const target = targetAddress(c.ip!, proxy.app_port);
    // A routed one stays: the router takes it out itself if it stops answering.
    if (routed.has(target) || (await probe(c.ip!, proxy.app_port, proxy.healthcheck.path, proxy.healthcheck.timeout * 1000)).ok) {
      targets.push(target);
    }
  }
  // With none left the route keeps what it had: nothing else could serve.
  if (targets.length === 0 || targets.join(' ') === routeTargets(before).join(' ')) return false;
  // A deploy switched or is switching this service meanwhile: its table wins.
  const now = store.routes.all().find((r) => r.service === name);
  const busy = store.unfinishedDeploys().some((d) => d.service === m.service && d.destination === m.destination);
  if (busy || JSON.stringify(now) !== JSON.stringify(before) || store.current(m.service, m.destination)?.version !== m.version) return false;
  const key = routeKey(m, role);
  store.routes.set(key.service, key.destination, { ...before, target: targets.length === 1 ? targets[0]! : targets });
  deps.log.info('replica targets updated', { service: name, targets: targets.join(' '), was: routeTargets(before).join(' ') });
  return true;
}
