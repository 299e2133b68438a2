// At agent start: bring every unfinished deploy to a final state, remove the
// containers no release owns, repoint routes whose container moved, and resend
// the route table. Before SWITCHED a deploy is undone; at or after it, finished.
// The engine also settles deploys a failure left unfinished through here.
import { UpstreamError } from '../../shared/errors.js';
import { DEPLOY_STATES, type DeployRecord, type DeployState } from '../../shared/api-types.js';
import { parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { APP_KIND, LABEL, containerName, isReleaseContainer } from '../core/containers.js';
import { plan } from '../core/plan.js';
import { proxiedRoles, routeFor, routeKey } from '../core/routes.js';
import type { ContainerInfo } from '../docker.js';
import { finishAfterSwitch, routedHosts } from './finish.js';
import { errorText } from '../../shared/errors.js';
import { releaseContainer, serviceContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import type { EngineDeps } from './types.js';

const SWITCHED_AT = DEPLOY_STATES.indexOf('SWITCHED');

export interface SettleOptions {
  /** Opens the reason text: `agent restarted`, `deploy interrupted`. */
  why: string;
  /** Last attempt: reach a final state even if the clean-up fails. */
  force?: boolean;
}

export function createReconciler(deps: EngineDeps, publisher: RoutePublisher) {
  const { store, docker, log } = deps;

  const isSwitched = (d: DeployRecord) =>
    DEPLOY_STATES.indexOf(d.state) >= SWITCHED_AT && d.state !== 'FAILED' && d.state !== 'REVERTED';

  async function settle(d: DeployRecord, o: SettleOptions): Promise<void> {
    try {
      await settleOnce(d, o);
    } catch (err) {
      if (!o.force) throw err;
      const current = store.getDeploy(d.id) ?? d;
      if (isSwitched(current)) {
        // The new release serves; the old containers are left as they are for the next deploy to stop.
        store.addEvent(d.id, current.state, `could not finish the drain: ${errorText(err)}; old containers left as they were`);
        store.setState(d.id, 'DONE');
        store.addEvent(d.id, 'DONE', `${d.service} ${d.version} is live`);
      } else {
        abandon(d, `${reasonFor(current, o)} (clean-up failed: ${errorText(err)})`);
      }
    }
  }

  function reasonFor(d: DeployRecord, o: SettleOptions): string {
    // A deploy that failed on its own keeps its own reason.
    if (d.state === 'FAILED' && d.error) return d.error;
    return `${o.why} during ${d.state}; release abandoned`;
  }

  async function settleOnce(d: DeployRecord, o: SettleOptions): Promise<void> {
    const payload = store.getRelease(d.id)?.payload;
    let manifest: ManifestPayload;
    try {
      manifest = parseManifestPayload(payload);
    } catch (err) {
      abandon(d, `${o.why} during ${d.state}; stored manifest unreadable: ${errorText(err)}`);
      return;
    }
    const containers = await serviceContainers(docker, d.service, d.destination);
    const mine = containers.filter((c) => Object.keys(manifest.roles).some((role) => isReleaseContainer(c.labels, { ...d, role, release: d.version })));
    const routed = routedHosts(store);
    // A crash between writing the new routes and recording SWITCHED: the table already sends traffic to it.
    const servesAlready = mine.some((c) => c.ip !== null && routed.has(c.ip) && c.running);

    if (isSwitched(d) || (servesAlready && d.state !== 'FAILED')) {
      await finish(d, manifest, containers, o);
      return;
    }
    for (const c of mine) {
      if (c.ip && routed.has(c.ip)) continue;
      if (c.labels[LABEL.deploy] === String(d.id)) await docker.remove(c.id, { force: true });
      else if (c.running) await docker.stop(c.id, manifest.stop_timeout); // a retained one this deploy had started
    }
    abandon(d, reasonFor(d, o));
  }

  function abandon(d: DeployRecord, reason: string): void {
    store.setState(d.id, 'REVERTED', reason);
    store.addEvent(d.id, 'REVERTED', reason);
    log.warn('unfinished deploy reverted', { deploy: d.id, service: d.service, reason });
  }

  async function finish(d: DeployRecord, m: ManifestPayload, containers: ContainerInfo[], o: SettleOptions): Promise<void> {
    // Stopping an old container the router still sends traffic to would fail requests.
    if (!(await publisher.sync())) {
      throw new UpstreamError('the router does not serve the route table yet; old containers stay until it does');
    }
    store.addEvent(d.id, d.state, `${o.why} during ${d.state}; finishing the switch`);
    // Past the switch the release's own containers are the ones to keep, whatever
    // their spec: take their fingerprints as they are (no secrets need opening).
    const fingerprints = Object.fromEntries(
      Object.keys(m.roles).flatMap((role) => {
        const own = containers.find((c) => isReleaseContainer(c.labels, { ...d, role, release: d.version }));
        const label = own?.labels[LABEL.spec];
        return label === undefined ? [] : [[role, label]];
      }),
    );
    const steps = plan(m, { imagePresent: true, containers, routes: store.routes.all() }, fingerprints);
    store.setCurrent(m.service, m.destination, d.id);
    const enter = async (state: DeployState, message: string) => {
      store.setState(d.id, state);
      store.addEvent(d.id, state, message);
    };
    // The router already sends traffic to it: the switch happened, only its record was missing.
    if (!isSwitched(d)) await enter('SWITCHED', 'the router already serves it; switch recorded');
    await finishAfterSwitch(deps, d.id, m, steps, enter);
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
      const role = c.labels[LABEL.role] ?? '';
      const ownedByDone = owner?.state === 'DONE' && isReleaseContainer(c.labels, { ...owner, role, release: owner.version });
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
        let info = await releaseContainer(docker, m, role);
        const name = info?.name ?? containerName(m, role);
        if (!info) {
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
    settle,
    /** Returns the deploys it could not settle, for the engine to retry. */
    async reconcile(): Promise<number[]> {
      // The router first matches the table, so no drain below is judged against stale routes.
      await publisher.sync();
      const failed: number[] = [];
      for (const d of store.unfinishedDeploys()) {
        try {
          await settle(d, { why: 'agent restarted' });
        } catch (err) {
          log.error('could not reconcile deploy; will retry', { deploy: d.id, error: err });
          failed.push(d.id);
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
      return failed;
    },
  };
}
