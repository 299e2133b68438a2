// Pausing and resuming a service's traffic (`deploy proxy pause|resume`): the
// router must hold (or release) the requests before the store records it, so
// an answer of 200 means the router already does, and a router that refuses
// or is down leaves the store as it was.
import type { PauseState } from '../../shared/api-types.js';
import type { Store } from '../store/index.js';
import type { RoutePublisher } from './route-publisher.js';
import type { PauseChange } from './types.js';

/** Resolves with the pause now in force (null when resumed) once the router serves it. */
export function createPauseSwitch(store: Store, publisher: Pick<RoutePublisher, 'publishChange'>) {
  return function setPause(change: PauseChange): Promise<PauseState | null> {
    const { service, destination, keyId, timeout } = change;
    const mine = (p: PauseState) => p.service === service && p.destination === destination;
    return publisher.publishChange(
      (stored) => {
        const others = stored.pauses.filter((p) => !mine(p));
        if (timeout === null) return { ...stored, pauses: others };
        return { ...stored, pauses: [...others, { service, destination, key_id: keyId, timeout, since: stored.pauses.find(mine)?.since ?? '' }] };
      },
      () => {
        if (timeout === null) {
          store.pauses.clear({ service, destination, keyId });
          return null;
        }
        return store.pauses.set({ service, destination, keyId, timeout });
      },
    );
  };
}
