// Sending the agent's route table to the router. All sends go through one queue
// so a deploy's switch and the periodic sync never race each other's versions.
import { UpstreamError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { sameRoutes } from '../core/routes.js';
import type { RouterPort } from './types.js';

const MAX_ATTEMPTS = 4;

export interface RoutePublisher {
  /** Sends the whole table now and waits for the router's ack; returns the version it serves. */
  publish(): Promise<number>;
  /**
   * Sends the table only if the router is behind or differs; logs and returns
   * when the router is down. True once the router serves the agent's table.
   */
  sync(): Promise<boolean>;
}

export function createRoutePublisher(store: Store, router: RouterPort, log: Logger): RoutePublisher {
  let queue: Promise<unknown> = Promise.resolve();
  let routerDown = false;
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const send = async (): Promise<number> => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const set = { version: store.routes.version(), routes: store.routes.all() };
      try {
        await router.putRoutes(set);
        return set.version;
      } catch (err) {
        lastError = err;
        if (!isConflict(err)) break;
        // The router has seen a newer version (e.g. our database was restored):
        // move above it and resend the same table. The only place the version is raised.
        const current = await router.getRoutes();
        store.routes.raiseVersion(current.version + 1);
      }
    }
    throw new UpstreamError(`the router did not accept the route table: ${(lastError as Error)?.message ?? lastError}`);
  };

  return {
    publish: () => serialize(send),
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
        const routes = store.routes.all();
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
  };
}

function isConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 409;
}
