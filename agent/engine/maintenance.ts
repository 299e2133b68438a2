// Turning maintenance on and off: the router must serve the change before the
// store records it, so an answer of 200 means the hosts already answer 503
// (or serve again), and a router that refuses or is down leaves the store as it was.
import type { MaintenanceState } from '../../shared/api-types.js';
import type { Store } from '../store/index.js';
import type { RoutePublisher } from './route-publisher.js';
import type { MaintenanceChange } from './types.js';

/** Resolves with the maintenance now in force (null when off) once the router serves it. */
export function createMaintenanceSwitch(store: Store, publisher: Pick<RoutePublisher, 'publishChange'>) {
  return function setMaintenance(change: MaintenanceChange): Promise<MaintenanceState | null> {
    const { service, destination, keyId, message } = change;
    const mine = (m: MaintenanceState) => m.service === service && m.destination === destination;
    return publisher.publishChange(
      (stored) => {
        const others = stored.maintenance.filter((m) => !mine(m));
        if (message === null) return { ...stored, maintenance: others };
        return { ...stored, maintenance: [...others, { service, destination, key_id: keyId, message, since: stored.maintenance.find(mine)?.since ?? '' }] };
      },
      () => {
        if (message === null) {
          store.maintenance.clear({ service, destination, keyId });
          return null;
        }
        return store.maintenance.set({ service, destination, keyId, message }).state;
      },
    );
  };
}
