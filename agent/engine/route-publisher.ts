// Sending the agent's route table to the router. All sends go through one queue
// so a deploy's switch and the periodic sync never race each other's versions.
import { UpstreamError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { MaintenanceState, PauseState } from '../../shared/api-types.js';
import { publishedRoutes, sameRoutes } from '../core/routes.js';
import type { RouterPort } from './types.js';
import { createSerial } from '../serial.js';
import { pushErrorPages, storedErrorPages } from './error-pages.js';

const MAX_ATTEMPTS = 4;

/** What the agent keeps beside the route table and merges into it on every send. */
export interface RouteOverlays {
  maintenance: MaintenanceState[];
  pauses: PauseState[];
  /** Router entries of roles stopped by `deploy app stop`: left out of the table. */
  stopped: string[];
}

export interface RoutePublisher {
  /** Sends the whole table now and waits for the router's ack; returns the version it serves. */
  publish(): Promise<number>;
  /**
   * Sends the table only if the router is behind or differs; logs and returns
   * when the router is down. True once the router serves the agent's table.
   */
  sync(): Promise<boolean>;
  /**
   * Sends the table with the maintenance, pause and stopped entries `preview` makes of
   * the stored ones, at a version above the stored one; once the router serves it, runs
   * `commit` with that version in the same turn of the queue (no other send in
   * between) and returns its result. When the router refuses or is down nothing
   * is committed, and the periodic sync puts back what the store says.
   */
  publishChange<T>(preview: (stored: RouteOverlays) => RouteOverlays, commit: (version: number) => T): Promise<T>;
}

export function createRoutePublisher(store: Store, router: RouterPort, log: Logger): RoutePublisher {
  let routerDown = false;
  const serialize = createSerial();
  const pages = storedErrorPages(store);

  // The table as the router must serve it: routes with health paths, maintenance and pauses merged in, stopped roles left out.
  const overlays = (): RouteOverlays => ({ maintenance: store.maintenance.all(), pauses: store.pauses.all(), stopped: store.appState.hiddenRoutes() });
  const table = (o = overlays()) => publishedRoutes(store.routes.all().filter((r) => !o.stopped.includes(r.service)), o.maintenance, o.pauses);

  const send = async (preview?: (stored: RouteOverlays) => RouteOverlays): Promise<number> => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const stored = overlays();
      // A previewed change needs a version the router has not seen with other contents.
      const set = preview
        ? { version: store.routes.version() + 1, routes: table(preview(stored)) }
        : { version: store.routes.version(), routes: table(stored) };
      try {
        await pushErrorPages(router, set.routes, pages);
        await router.putRoutes(set);
        return set.version;
      } catch (err) {
        lastError = err;
        if (!isConflict(err)) break;
        // The router has seen a newer version (e.g. our database was restored):
        // move above it and resend the same table. The only place the version is
        // raised apart from a committed change (publishChange).
        const current = await router.getRoutes();
        store.routes.raiseVersion(current.version + 1);
      }
    }
    throw new UpstreamError(`the router did not accept the route table: ${(lastError as Error)?.message ?? lastError}`);
  };

  return {
    publish: () => serialize(() => send()),
    sync: () =>
      serialize(async () => {
        let current;
        try {
          current = await router.getRoutes();
        } catch (err) {
          if (!routerDown) log.warn('router unreachable; will resend routes when it is back', { error: err });
          routerDown = true;
          return false;
        }
        if (routerDown) log.info('router is reachable again');
        routerDown = false;
        const storeVersion = store.routes.version();
        const routes = table();
        if (current.version >= storeVersion && sameRoutes(current.routes, routes)) return true;
        try {
          const version = await send();
          log.info('route table sent to the router', { version, routes: routes.length });
          return true;
        } catch (err) {
          log.warn('route resend failed; will retry', { error: err });
          return false;
        }
      }),
    publishChange: (preview, commit) =>
      serialize(async () => {
        const version = await send(preview);
        const result = commit(version);
        // The store now describes what the router serves, at the version it serves.
        store.routes.raiseVersion(version);
        return result;
      }),
  };
}

function isConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 409;
}
