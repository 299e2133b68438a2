// `deploy remove` on one server: take the service off the router first, so no
// request reaches a container about to go, then remove every app container of
// the service (this destination only, any state), then forget its current
// release and maintenance. seq and history stay. Safe to repeat: a removal that
// stopped half-way (Docker or the router failed) finishes on the next try.
import { removeServiceAssets } from './assets.js';
import { NotFoundError, UpstreamError } from '../../shared/errors.js';
import { manifestSubject } from '../../shared/manifest.js';
import type { DockerPort } from '../docker.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { errorText } from '../../shared/errors.js';
import { serviceContainers } from './observe.js';
import type { RoutePublisher } from './route-publisher.js';
import type { RemoveRequest, RemoveResult } from './types.js';

export interface RemoveDeps {
  store: Store;
  docker: Pick<DockerPort, 'listContainers' | 'stop' | 'remove'>;
  publisher: Pick<RoutePublisher, 'publish'>;
  log: Logger;
  /** The agent's state dir, where bridged assets are kept; none kept when absent. */
  stateDir?: string;
}

const DEFAULT_STOP_TIMEOUT_S = 10;

export async function removeService(deps: RemoveDeps, req: RemoveRequest): Promise<RemoveResult> {
  const { store, log } = deps;
  const name = manifestSubject(req.service, req.destination);
  // Refuses (409) while a deploy or an operator lock holds the service; then holds it itself.
  const stopTimeout = currentStopTimeout(store, req);
  const { previousCurrent } = store.removal.begin(req);
  // Set once the routes are off: from then on a failure is audited with what was removed.
  let removedSoFar: string[] | undefined;
  try {
    const containers = await serviceContainers(deps.docker, req.service, req.destination);
    const routes = store.removal.dropRoutes(req.service, req.destination);
    if (store.seq(req.service, req.destination) === 0 && containers.length === 0 && routes.length === 0) {
      throw new NotFoundError(`service ${name} has never been deployed on this agent`);
    }
    if (routes.length > 0) {
      try {
        await deps.publisher.publish();
      } catch (err) {
        // The router may have applied the table anyway: give it the old one back before anything stops.
        store.removal.restoreRoutes(routes);
        await deps.publisher.publish().catch((e: unknown) => log.warn('could not restore routes after a failed removal; the periodic sync retries', { service: name, error: e }));
        throw new UpstreamError(`${name}: the router did not take the service off: ${errorText(err)}`, 'nothing was removed; try again');
      }
    }

    // All at once, so the answer comes within one stop_timeout however many roles run;
    // results in the order Docker listed the containers, whatever order they finished in.
    const results = await Promise.all(containers.map(async (c) => {
      try {
        // A graceful stop first: the app gets its SIGTERM and stop_timeout, as in a deploy.
        if (c.running) await deps.docker.stop(c.id, stopTimeout);
        await deps.docker.remove(c.id, { force: true });
        return { name: c.name, error: undefined };
      } catch (err) {
        return { name: c.name, error: errorText(err) };
      }
    }));
    const removed = results.filter((r) => r.error === undefined).map((r) => r.name);
    const notRemoved = results.filter((r) => r.error !== undefined).map((r) => `${r.name} (${r.error})`);
    removedSoFar = removed;
    if (notRemoved.length > 0) {
      throw new UpstreamError(
        `${name}: could not remove ${notRemoved.join(', ')}${removed.length ? `; removed ${removed.join(', ')}` : ''}`,
        'the router no longer serves it; run deploy remove again to finish',
      );
    }
    // No container mounts them any more.
    if (deps.stateDir !== undefined) await removeServiceAssets(deps.stateDir, req).catch((e: unknown) => log.warn('could not remove the service\'s asset directories', { service: name, error: e }));
    store.removal.finish({ ...req, containers: removed, routes: routes.length });
    store.appState.forget(req.service, req.destination);
    log.info('service removed', { service: name, containers: removed, routes: routes.length });
    return { containers: removed, routes: routes.length };
  } catch (err) {
    store.removal.abort({ ...req, previousCurrent, ...(removedSoFar ? { failed: { containers: removedSoFar, error: errorText(err) } } : {}) });
    throw err;
  }
}

/** The current release's stop_timeout: what the app was promised on every stop. */
function currentStopTimeout(store: Store, req: RemoveRequest): number {
  const current = store.current(req.service, req.destination);
  const payload = current ? store.getRelease(current.deploy_id)?.payload : undefined;
  return payload?.stop_timeout ?? DEFAULT_STOP_TIMEOUT_S;
}
