// At agent start, in this order: resend the route table (so no drain is judged
// against stale routes), settle every unfinished deploy (settle.ts), remove the
// containers no release owns, repoint routes whose container (a role's or a
// routed accessory's) moved, and resend the route table.
import type { DeployRecord } from '../../shared/api-types.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { APP_KIND, LABEL, isReleaseContainer } from '../core/containers.js';
import { proxiedRoles, routeFor, routeKey } from '../core/routes.js';
import { routeTargets } from '../../shared/routes.js';
import { stoppedRoles } from './app-state.js';
import { routedHosts } from './finish.js';
import { releaseContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import { settle, type SettleOptions, type Settler } from './settle.js';
import type { EngineDeps } from './types.js';
import { findAccessory } from '../accessories/service.js';
import { repointAccessoryRoutes } from '../accessories/routes.js';

export function createReconciler(deps: EngineDeps, publisher: RoutePublisher) {
  const s: Settler = { deps, publisher };
  return {
    settle: (d: DeployRecord, o: SettleOptions) => settle(s, d, o),
    /** Returns the deploys it could not settle, for the engine to retry. */
    async reconcile(): Promise<number[]> {
      await publisher.sync();
      const failed = await settleUnfinished(s);
      await chore(deps, 'remove orphan containers', () => removeOrphans(deps));
      await chore(deps, 'repoint routes', () => repointRoutes(deps));
      await publisher.sync();
      return failed;
    },
  };
}

async function settleUnfinished(s: Settler): Promise<number[]> {
  const failed: number[] = [];
  for (const d of s.deps.store.unfinishedDeploys()) {
    try {
      await settle(s, d, { why: 'agent restarted' });
    } catch (err) {
      s.deps.log.error('could not reconcile deploy; will retry', { deploy: d.id, error: err });
      failed.push(d.id);
    }
  }
  return failed;
}

/** A chore that fails is logged; the next start tries again. */
async function chore(deps: EngineDeps, what: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    deps.log.error(`reconcile: could not ${what}`, { error: err });
  }
}

async function removeOrphans({ store, docker, log }: EngineDeps): Promise<void> {
  const routed = routedHosts(store);
  for (const c of await docker.listContainers({ [LABEL.kind]: APP_KIND }, true)) {
    const service = c.labels[LABEL.service] ?? '';
    const destination = c.labels[LABEL.destination] ?? '';
    // A service this agent never accepted is not ours to judge (e.g. a fresh state dir).
    if (!service || store.seq(service, destination) === 0) continue;
    if (c.ip && routed.has(c.ip)) continue;
    const owner = store.getDeploy(Number(c.labels[LABEL.deploy]));
    const role = c.labels[LABEL.role] ?? '';
    const ownedByDone = owner?.state === 'DONE' && isReleaseContainer(c.labels, { ...owner, role, release: owner.version });
    if (ownedByDone) continue;
    if (owner && owner.state !== 'DONE' && owner.state !== 'REVERTED') continue; // still being deployed
    await docker.remove(c.id, { force: true });
    log.info('removed orphan container', { container: c.name, service, release: c.labels[LABEL.release] });
  }
}

/** After a reboot Docker restarts routed containers (unless-stopped), possibly on new addresses. */
async function repointRoutes({ store, docker, log }: EngineDeps): Promise<void> {
  for (const s of store.services()) {
    if (!s.current) continue;
    let m: ManifestPayload;
    try {
      m = parseManifestPayload(store.getRelease(s.current.deploy_id)?.payload);
    } catch {
      continue;
    }
    // `deploy app stop` outlives restarts: those containers stay stopped and unrouted.
    const stopped = stoppedRoles(store, m.service, m.destination);
    await repointAccessoryRoutes(store.routes, m, (name) => findAccessory(docker, m, name));
    for (const role of proxiedRoles(m).filter((r) => !stopped.has(r))) {
      const ips: string[] = [];
      for (const { name, info: found } of await releaseContainers(docker, m, role)) {
        let info = found;
        if (!info) {
          log.warn('the current release has no container for a routed role', { service: m.service, role, container: name });
          continue;
        }
        if (!info.running) {
          await docker.start(info.id);
          info = await docker.inspect(info.id);
          log.info('started the routed container again', { container: name });
        }
        if (info?.ip) ips.push(info.ip);
      }
      const route = ips.length > 0 ? routeFor(m, role, ips) : undefined;
      if (!route) continue;
      const existing = store.routes.all().find((r) => r.service === route.service);
      if (existing && routeTargets(existing).join(' ') === routeTargets(route).join(' ')) continue;
      const key = routeKey(m, role);
      store.routes.set(key.service, key.destination, route);
      log.info('route target updated', { service: route.service, target: routeTargets(route).join(' ') });
    }
  }
}
