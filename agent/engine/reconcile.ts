// At agent start: bring every unfinished deploy to a final state, remove the
// containers no release owns, repoint routes whose container moved, and resend
// the route table. Before SWITCHED a deploy is undone; at or after it, finished.
import { DEPLOY_STATES, type DeployRecord, type DeployState } from '../../shared/api-types.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { APP_KIND, LABEL, containerName } from '../core/containers.js';
import { plan } from '../core/plan.js';
import { proxiedRoles, routeFor, routeKey } from '../core/routes.js';
import type { ContainerInfo } from '../docker.js';
import { errorText, finishAfterSwitch, routedHosts } from './deploy.js';
import type { Launched } from './launch.js';
import { serviceContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import type { EngineDeps } from './types.js';

const SWITCHED_AT = DEPLOY_STATES.indexOf('SWITCHED');

export function createReconciler(deps: EngineDeps, publisher: RoutePublisher) {
  const { store, docker, log } = deps;

  async function settle(d: DeployRecord): Promise<void> {
    const payload = store.getRelease(d.id)?.payload;
    let manifest: ManifestPayload;
    try {
      manifest = parseManifestPayload(payload);
    } catch (err) {
      abandon(d, `agent restarted during ${d.state}; stored manifest unreadable: ${errorText(err)}`);
      return;
    }
    const containers = await serviceContainers(docker, d.service, d.destination);
    const mine = containers.filter((c) => c.labels[LABEL.release] === d.version);
    const routed = routedHosts(store);
    // A crash between writing the new routes and recording SWITCHED: the table already sends traffic to it.
    const servesAlready = mine.some((c) => c.ip !== null && routed.has(c.ip) && c.running);
    const switched = DEPLOY_STATES.indexOf(d.state) >= SWITCHED_AT && d.state !== 'FAILED' && d.state !== 'REVERTED';

    if (switched || (servesAlready && d.state !== 'FAILED')) {
      await finish(d, manifest, containers, mine);
      return;
    }
    for (const c of mine) {
      if (c.ip && routed.has(c.ip)) continue;
      if (c.labels[LABEL.deploy] === String(d.id)) await docker.remove(c.id, { force: true });
      else if (c.running) await docker.stop(c.id, manifest.stop_timeout); // a retained one this deploy had started
    }
    abandon(d, `agent restarted during ${d.state}; release abandoned`);
  }

  function abandon(d: DeployRecord, reason: string): void {
    store.setState(d.id, 'REVERTED', reason);
    store.addEvent(d.id, 'REVERTED', reason);
    log.warn('unfinished deploy reverted', { deploy: d.id, service: d.service, reason });
  }

  async function finish(d: DeployRecord, m: ManifestPayload, containers: ContainerInfo[], mine: ContainerInfo[]): Promise<void> {
    store.addEvent(d.id, d.state, `agent restarted during ${d.state}; finishing the switch`);
    const launched = new Map<string, Launched>();
    for (const c of mine) {
      const role = c.labels[LABEL.role];
      if (role) launched.set(role, { role, name: c.name, id: c.id, origin: 'reused', info: c });
    }
    const steps = plan(m, { imagePresent: true, containers, routes: store.routes.all() });
    store.setCurrent(m.service, m.destination, d.id);
    const enter = async (state: DeployState, message: string) => {
      store.setState(d.id, state);
      store.addEvent(d.id, state, message);
    };
    await finishAfterSwitch(deps, d.id, m, steps, launched, enter);
  }

  async function removeOrphans(): Promise<void> {
    const routed = routedHosts(store);
    for (const c of await docker.listContainers({ [LABEL.kind]: APP_KIND }, true)) {
      const service = c.labels[LABEL.service] ?? '';
      const destination = c.labels[LABEL.destination] ?? '';
      // A service this agent never accepted is not ours to judge (e.g. a fresh state dir).
      if (!service || store.seq(service, destination) === 0) continue;
      if (c.ip && routed.has(c.ip)) continue;
      const owner = store.getDeploy(Number(c.labels[LABEL.deploy]));
      const ownedByDone =
        owner?.state === 'DONE' &&
        owner.service === service &&
        owner.destination === destination &&
        owner.version === c.labels[LABEL.release];
      if (ownedByDone) continue;
      if (owner && owner.state !== 'DONE' && owner.state !== 'REVERTED') continue; // still being deployed
      await docker.remove(c.id, { force: true });
      log.info('removed orphan container', { container: c.name, service, release: c.labels[LABEL.release] });
    }
  }

  /** After a reboot Docker restarts routed containers (unless-stopped), possibly on new addresses. */
  async function repointRoutes(): Promise<void> {
    for (const s of store.services()) {
      if (!s.current) continue;
      let m: ManifestPayload;
      try {
        m = parseManifestPayload(store.getRelease(s.current.deploy_id)?.payload);
      } catch {
        continue;
      }
      for (const role of proxiedRoles(m)) {
        const name = containerName(m.service, role, m.destination, m.version);
        let info = await docker.inspect(name);
        if (!info || info.labels[LABEL.release] !== m.version) {
          log.warn('the current release has no container for a routed role', { service: m.service, role, container: name });
          continue;
        }
        if (!info.running) {
          await docker.start(info.id);
          info = await docker.inspect(info.id);
          log.info('started the routed container again', { container: name });
        }
        const route = info?.ip ? routeFor(m, role, info.ip) : undefined;
        if (!route) continue;
        const existing = store.routes.all().find((r) => r.service === route.service);
        if (existing?.target === route.target) continue;
        const key = routeKey(m, role);
        store.routes.set(key.service, key.destination, route);
        log.info('route target updated', { service: route.service, target: route.target });
      }
    }
  }

  return {
    async reconcile(): Promise<void> {
      for (const d of store.unfinishedDeploys()) {
        try {
          await settle(d);
        } catch (err) {
          log.error('could not reconcile deploy', { deploy: d.id, error: err });
        }
      }
      const chores: Array<[string, () => Promise<void>]> = [
        ['remove orphan containers', removeOrphans],
        ['repoint routes', repointRoutes],
      ];
      for (const [what, chore] of chores) {
        try {
          await chore();
        } catch (err) {
          log.error(`reconcile: could not ${what}`, { error: err });
        }
      }
      await publisher.sync();
    },
  };
}
